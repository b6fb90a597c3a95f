// Package metrics serves a daemon's metrics in the Prometheus text
// exposition format (version 0.0.4) on --metrics-listen.
//
// A daemon's metrics are a snapshot of state it already keeps (its status
// and counters), gathered per scrape by a Collector, so there is no second
// set of counters to keep in step and no dependency on a metrics library
// for what is a few lines of text.
package metrics

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Type is a metric family's type.
type Type string

// The family types a daemon uses.
const (
	Counter Type = "counter"
	Gauge   Type = "gauge"
)

// Family is one metric name with its samples.
type Family struct {
	Name, Help string
	Type       Type
	Samples    []Sample
}

// Sample is one value, told apart from its family's others by its labels.
type Sample struct {
	Labels []Label
	Value  float64
}

// Label is a name="value" pair.
type Label struct{ Name, Value string }

// L builds labels from name, value pairs.
func L(pairs ...string) []Label {
	labels := make([]Label, 0, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		labels = append(labels, Label{pairs[i], pairs[i+1]})
	}
	return labels
}

// Collector gathers the families of one scrape.
type Collector func(ctx context.Context) ([]Family, error)

// Write renders fams in the text format, families sorted by name so that
// a scrape reads the same from one run to the next.
func Write(w io.Writer, fams []Family) error {
	sorted := slices.Clone(fams)
	slices.SortStableFunc(sorted, func(a, b Family) int { return strings.Compare(a.Name, b.Name) })
	bw := bufio.NewWriter(w)
	for _, f := range sorted {
		if !validName(f.Name) {
			return fmt.Errorf("metrics: invalid metric name %q", f.Name)
		}
		fmt.Fprintf(bw, "# HELP %s %s\n# TYPE %s %s\n", f.Name, escapeHelp(f.Help), f.Name, f.Type)
		for _, s := range f.Samples {
			bw.WriteString(f.Name)
			if len(s.Labels) > 0 {
				bw.WriteByte('{')
				for i, l := range s.Labels {
					if !validName(l.Name) {
						return fmt.Errorf("metrics: %s: invalid label name %q", f.Name, l.Name)
					}
					if i > 0 {
						bw.WriteByte(',')
					}
					fmt.Fprintf(bw, "%s=\"%s\"", l.Name, escapeLabel(l.Value))
				}
				bw.WriteByte('}')
			}
			bw.WriteByte(' ')
			bw.WriteString(formatValue(s.Value))
			bw.WriteByte('\n')
		}
	}
	return bw.Flush()
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r == ':' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

var (
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
	labelEscaper = strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`)
)

func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
func escapeLabel(s string) string { return labelEscaper.Replace(s) }

func formatValue(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	case v == math.Trunc(v) && math.Abs(v) < 1e15:
		return strconv.FormatFloat(v, 'f', -1, 64) // counters stay readable
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Handler answers every GET with a fresh scrape.
func Handler(collect Collector, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			http.Error(w, "only GET", http.StatusMethodNotAllowed)
			return
		}
		fams, err := collect(r.Context())
		if err != nil {
			log.Warn("metrics scrape failed", "err", err)
			http.Error(w, "scrape failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		if err := Write(w, fams); err != nil {
			log.Warn("metrics scrape failed", "err", err)
		}
	})
}

// Listen opens the metrics port. Daemons call it first thing, so that a
// port in use refuses the start before anything else is touched.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("serve metrics on %s: %w (choose a free host:port for --metrics-listen)", addr, err)
	}
	return ln, nil
}

// Serve serves /metrics on ln until ctx ends, then closes it; stopped
// yields the server's end.
func Serve(ctx context.Context, ln net.Listener, collect Collector, log *slog.Logger) (stopped <-chan error) {
	mux := http.NewServeMux()
	mux.Handle("/metrics", Handler(collect, log))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan error, 1)
	go func() {
		err := srv.Serve(ln)
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		done <- err
	}()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Info("serving metrics", "addr", ln.Addr().String())
	return done
}
