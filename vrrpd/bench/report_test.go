//go:build e2e

package bench

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hasuite/hasuite/pkg/benchdoc"
)

// The generated part of docs/benchmarks.md lies between these markers;
// the text around them is written by hand. vrrpd's section came first:
// its markers carry no daemon's name, hence benchdoc's unnamed section.
const docSection = ""

var beginMarker, endMarker = benchdoc.BeginMarker(docSection), benchdoc.EndMarker(docSection)

// Issue 3's aims, printed next to the figures.
const (
	aimSlack       = 10 * time.Millisecond // outage ≤ Master_Down + this
	aimFastOutage  = 50 * time.Millisecond // v3 at 10 ms
	aimRSS         = 15 << 20
	aimCPUPercent  = 0.5 // with 100 groups at 1 s
	pingResolution = pingInterval
)

type outageResult struct {
	Daemon  string
	Timing  timing
	Failure string
	Bound   string // "Master_Down" or "Skew_Time": what the outage compares with
	// Samples are the outages, FromAdvert the same trials' times from the
	// master's last advert to the first reply (see measured).
	Samples    []time.Duration
	FromAdvert []time.Duration
	Claimed    []time.Duration // to the new master's first advert
	Errors     []string
}

// bound is what the phase-free figure compares with: Master_Down when the
// master vanishes, Skew_Time when it resigns.
func (r outageResult) bound() time.Duration {
	if r.Bound == "Skew_Time" {
		return r.Timing.SkewTime()
	}
	return r.Timing.MasterDown()
}

func (r outageResult) stats() (median, lo, hi time.Duration, ok bool) {
	return benchdoc.Stats(r.Samples)
}

func (r outageResult) advertStats() (median, lo, hi time.Duration, ok bool) {
	return benchdoc.Stats(r.FromAdvert)
}

func (r outageResult) summary() string {
	med, lo, hi, ok := r.stats()
	if !ok {
		return fmt.Sprintf("no trial succeeded (%d failed)", len(r.Errors))
	}
	amed, alo, ahi, _ := r.advertStats()
	cmed, clo, chi, _ := benchdoc.Stats(r.Claimed)
	return fmt.Sprintf("outage median %s (min %s, max %s); from last advert %s (%s, %s); to the new master's first advert %s (%s, %s); %d of %d trials",
		benchdoc.Ms(med), benchdoc.Ms(lo), benchdoc.Ms(hi), benchdoc.Ms(amed), benchdoc.Ms(alo), benchdoc.Ms(ahi),
		benchdoc.Ms(cmed), benchdoc.Ms(clo), benchdoc.Ms(chi), len(r.Samples), len(r.Samples)+len(r.Errors))
}

// cell is "median (min–max)" in ms of the samples, with failed trials
// counted.
func (r outageResult) cell(samples []time.Duration) string {
	med, lo, hi, ok := benchdoc.Stats(samples)
	if !ok {
		return fmt.Sprintf("— (all %d trials failed)", len(r.Errors))
	}
	s := fmt.Sprintf("%s (%s–%s)", benchdoc.MsNum(med), benchdoc.MsNum(lo), benchdoc.MsNum(hi))
	if len(r.Errors) > 0 {
		s += fmt.Sprintf(" [%d of %d failed]", len(r.Errors), len(r.Samples)+len(r.Errors))
	}
	return s
}

type idleResult struct {
	Daemon     string
	Groups     int
	Timing     timing
	Window     time.Duration
	Processes  int
	RSS        int64
	CPUPercent float64
	Error      string
}

func (r idleResult) summary() string {
	if r.Error != "" {
		return fmt.Sprintf("%s %d groups at %s: failed: %s", r.Daemon, r.Groups, r.Timing.Name, r.Error)
	}
	return fmt.Sprintf("%s %d groups at %s: RSS %.1f MiB (%d processes), CPU %.3f %% of a core over %v",
		r.Daemon, r.Groups, r.Timing.Name, benchdoc.MiB(r.RSS), r.Processes, r.CPUPercent, r.Window)
}

type stabilityResult struct {
	Daemon         string
	Timing         timing
	Window         time.Duration
	Load           int // busy `yes` processes
	MasterAdverts  int
	LongestSilence time.Duration
	Resignations   int // priority-0 adverts from the master
	Takeovers      int // runs of adverts from the backup
	Error          string
}

func (r stabilityResult) summary() string {
	if r.Error != "" {
		return fmt.Sprintf("%s stability at %s: failed: %s", r.Daemon, r.Timing.Name, r.Error)
	}
	return fmt.Sprintf("%s stability at %s over %v with %d busy cores: %d spurious takeovers, %d master adverts, longest silence %s",
		r.Daemon, r.Timing.Name, r.Window.Round(time.Second), r.Load, r.Takeovers, r.MasterAdverts, benchdoc.Ms(r.LongestSilence))
}

// results collects what the benchmarks measured, for TestMain to render.
type results struct {
	mu         sync.Mutex
	vrrpd      string
	keepalived string
	outages    []outageResult
	idle       []idleResult
	stability  []stabilityResult
}

var report = &results{}

func (r *results) setVersions(vrrpd, keepalived string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.vrrpd, r.keepalived = vrrpd, keepalived
}

// addOutage adds a case's trials, to those of an earlier run of the same
// case under -count.
func (r *results) addOutage(o outageResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, old := range r.outages {
		if old.Daemon == o.Daemon && old.Timing == o.Timing && old.Failure == o.Failure {
			old.Samples = append(old.Samples, o.Samples...)
			old.FromAdvert = append(old.FromAdvert, o.FromAdvert...)
			old.Claimed = append(old.Claimed, o.Claimed...)
			old.Errors = append(old.Errors, o.Errors...)
			r.outages[i] = old
			return
		}
	}
	r.outages = append(r.outages, o)
}

// addIdle and addStability keep the latest run of a case under -count.
func (r *results) addIdle(n idleResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.idle = replaceOrAppend(r.idle, n, func(o idleResult) bool {
		return o.Daemon == n.Daemon && o.Groups == n.Groups && o.Timing == n.Timing
	})
}

func (r *results) addStability(n stabilityResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stability = replaceOrAppend(r.stability, n, func(o stabilityResult) bool { return o.Daemon == n.Daemon })
}

func replaceOrAppend[T any](list []T, v T, same func(T) bool) []T {
	if i := slices.IndexFunc(list, same); i >= 0 {
		list[i] = v
		return list
	}
	return append(list, v)
}

func (r *results) empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.outages)+len(r.idle)+len(r.stability) == 0
}

func (r *results) complete() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.outages) > 0 && len(r.idle) > 0 && len(r.stability) > 0
}

// render is the generated section of docs/benchmarks.md, markers included.
func (r *results) render(m benchdoc.Machine) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("%s\n\n", beginMarker)
	w("%s; %s against %s.\n", m.Measured(), r.vrrpd, r.keepalived)
	var notes []string
	if len(r.outages) > 0 {
		trials := 0
		for _, o := range r.outages {
			trials = max(trials, len(o.Samples)+len(o.Errors))
		}
		w("\n### Failover outage seen by the LAN host\n\n")
		w("In ms, median (min–max) of %d trials; backup priority %d, master %d. *Outage*: the longest gap between "+
			"replies to a ping of the VIP every 5 ms, the failure at a random phase of the advert interval, so it "+
			"spreads over one interval below Master_Down. *From last advert*: from the master's last advert before the "+
			"failure (its priority-0 advert on a clean stop) to the first reply from the new master, both captured on the host: "+
			"the figure free of that phase, to compare with Master_Down (Skew_Time on a clean stop). "+
			"Aim: vrrpd's worst *from last advert* ≤ that bound + %s, its median ≤ keepalived's + %s (one ping), "+
			"its worst outage < %s at 10 ms.\n\n",
			trials, backupPriority, masterPriority, benchdoc.Ms(aimSlack), benchdoc.Ms(pingResolution), benchdoc.Ms(aimFastOutage))
		w("| adverts | failure | Master_Down (Skew_Time) | outage: vrrpd | outage: keepalived | from last advert: vrrpd | from last advert: keepalived | aim |\n")
		w("|---|---|---|---|---|---|---|---|\n")
		for _, o := range r.outages {
			if o.Daemon != "vrrpd" {
				continue
			}
			k, _ := r.find(o.Timing, o.Failure, "keepalived")
			w("| %s | %s | %s (%s) | %s | %s | %s | %s | %s |\n", o.Timing.Name, o.Failure,
				benchdoc.MsNum(o.Timing.MasterDown()), benchdoc.MsNum(o.Timing.SkewTime()), o.cell(o.Samples), k.cell(k.Samples),
				o.cell(o.FromAdvert), k.cell(k.FromAdvert), outageAim(o, k))
		}
		w("\nWhere the time goes, medians in ms from the same advert: to the new master's first advert (detection), " +
			"then to its first reply (VIPs, gratuitous ARP, the host's next ping).\n\n")
		w("| adverts | failure | vrrpd: first advert | vrrpd: first reply | keepalived: first advert | keepalived: first reply |\n")
		w("|---|---|---|---|---|---|\n")
		for _, o := range r.outages {
			if o.Daemon != "vrrpd" {
				continue
			}
			k, _ := r.find(o.Timing, o.Failure, "keepalived")
			w("| %s | %s | %s | %s | %s | %s |\n", o.Timing.Name, o.Failure,
				medianCell(o.Claimed), medianCell(o.FromAdvert), medianCell(k.Claimed), medianCell(k.FromAdvert))
		}
		for _, o := range r.outages {
			for _, e := range o.Errors {
				notes = append(notes, fmt.Sprintf("%s, %s, %s: %s", o.Daemon, o.Timing.Name, o.Failure, benchdoc.FirstLine(e)))
			}
		}
	}
	if len(r.idle) > 0 {
		w("\n### Idle master: memory and CPU\n\n")
		w("One router alone, master of every group; VmRSS at the end, utime+stime over the window (all processes of the daemon). "+
			"Aim for vrrpd: RSS < %.0f MiB, CPU < %.1f %% of a core with 100 groups at 1 s.\n\n", benchdoc.MiB(aimRSS), aimCPUPercent)
		w("| daemon | groups | adverts | processes | RSS MiB | CPU %% of a core | window | aim |\n|---|---|---|---|---|---|---|---|\n")
		for _, i := range r.idle {
			if i.Error != "" {
				w("| %s | %d | %s | — | — | — | — | failed |\n", i.Daemon, i.Groups, i.Timing.Name)
				notes = append(notes, fmt.Sprintf("%s, %d groups, %s: %s", i.Daemon, i.Groups, i.Timing.Name, benchdoc.FirstLine(i.Error)))
				continue
			}
			w("| %s | %d | %s | %d | %.1f | %.3f | %v | %s |\n", i.Daemon, i.Groups, i.Timing.Name, i.Processes,
				benchdoc.MiB(i.RSS), i.CPUPercent, i.Window.Round(time.Second), idleAim(i))
		}
	}
	if len(r.stability) > 0 {
		w("\n### Stability at 10 ms adverts on a loaded machine\n\n")
		w("Both routers up, the master never fails, every core busy with `yes`, one lab per row side by side; each daemon "+
			"also with real-time scheduling (SCHED_RR %d: keepalived's `vrrp_rt_priority`, `run --realtime-priority` for vrrpd). From the LAN "+
			"host's capture: takeovers by the backup (runs of its adverts; each is spurious), priority-0 adverts and the longest "+
			"silence between the master's adverts (Master_Down here: 36.1 ms). Aim: 0 takeovers (the issue asks for 10 minutes).\n\n",
			rtPriority)
		w("| daemon | adverts | duration | busy cores | master adverts | longest silence ms | priority-0 adverts | spurious takeovers |\n|---|---|---|---|---|---|---|---|\n")
		for _, s := range r.stability {
			if s.Error != "" {
				w("| %s | %s | %v | %d | — | — | — | failed |\n", s.Daemon, s.Timing.Name, s.Window.Round(time.Second), s.Load)
				notes = append(notes, fmt.Sprintf("%s, stability: %s", s.Daemon, benchdoc.FirstLine(s.Error)))
				continue
			}
			w("| %s | %s | %v | %d | %d | %s | %d | %d |\n", s.Daemon, s.Timing.Name, s.Window.Round(time.Second), s.Load,
				s.MasterAdverts, benchdoc.MsNum(s.LongestSilence), s.Resignations, s.Takeovers)
		}
	}
	if len(notes) > 0 {
		w("\nFailed trials:\n\n")
		for _, n := range notes {
			w("- %s\n", n)
		}
	}
	w("\n%s\n", endMarker)
	return b.String()
}

func medianCell(samples []time.Duration) string {
	med, _, _, ok := benchdoc.Stats(samples)
	if !ok {
		return "—"
	}
	return benchdoc.MsNum(med)
}

func (r *results) find(t timing, failure, daemon string) (outageResult, bool) {
	for _, o := range r.outages {
		if o.Timing == t && o.Failure == failure && o.Daemon == daemon {
			return o, true
		}
	}
	return outageResult{}, false
}

// outageAim says whether vrrpd's figures meet issue 3's aims, and if not
// which one they miss.
func outageAim(v, k outageResult) string {
	_, _, vmax, ok := v.stats()
	amed, _, amax, _ := v.advertStats()
	if !ok || len(v.Errors) > 0 {
		return "no: failed trials"
	}
	var missed []string
	if amax > v.bound()+aimSlack {
		missed = append(missed, "worst > "+v.Bound+" + 10")
	}
	if v.Timing.Interval == 10*time.Millisecond && vmax >= aimFastOutage {
		missed = append(missed, "worst outage ≥ 50")
	}
	if kmed, _, _, ok := k.advertStats(); ok && amed > kmed+pingResolution {
		missed = append(missed, "slower than keepalived")
	}
	if len(missed) == 0 {
		return "yes"
	}
	return "no: " + strings.Join(missed, ", ")
}

func idleAim(i idleResult) string {
	if i.Daemon != "vrrpd" {
		return "reference"
	}
	var missed []string
	if i.RSS >= aimRSS {
		missed = append(missed, "RSS")
	}
	if i.Groups >= 100 && i.CPUPercent >= aimCPUPercent {
		missed = append(missed, "CPU")
	}
	if len(missed) == 0 {
		return "yes"
	}
	return "no: " + strings.Join(missed, ", ")
}
