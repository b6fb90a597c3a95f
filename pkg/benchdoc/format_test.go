package benchdoc

import (
	"strings"
	"testing"
	"time"
)

func TestStats(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name        string
		samples     []time.Duration
		med, lo, hi time.Duration
		ok          bool
	}{
		{name: "none"},
		{name: "one", samples: []time.Duration{5 * ms}, med: 5 * ms, lo: 5 * ms, hi: 5 * ms, ok: true},
		{name: "odd", samples: []time.Duration{30 * ms, 10 * ms, 20 * ms}, med: 20 * ms, lo: 10 * ms, hi: 30 * ms, ok: true},
		{name: "even", samples: []time.Duration{40 * ms, 10 * ms, 20 * ms, 30 * ms}, med: 25 * ms, lo: 10 * ms, hi: 40 * ms, ok: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := append([]time.Duration(nil), tt.samples...)
			med, lo, hi, ok := Stats(tt.samples)
			if med != tt.med || lo != tt.lo || hi != tt.hi || ok != tt.ok {
				t.Errorf("Stats(%v) = %v %v %v %v, want %v %v %v %v", tt.samples, med, lo, hi, ok, tt.med, tt.lo, tt.hi, tt.ok)
			}
			for i := range in {
				if in[i] != tt.samples[i] {
					t.Errorf("Stats reordered its argument: %v, was %v", tt.samples, in)
				}
			}
		})
	}
}

// TestStatsTypes: the RSS tables take int64, the CPU ones float64; an
// even count's integer median truncates.
func TestStatsTypes(t *testing.T) {
	if med, lo, hi, ok := Stats([]int64{3, 1, 2, 4}); med != 2 || lo != 1 || hi != 4 || !ok {
		t.Errorf("Stats(int64) = %v %v %v %v, want 2 1 4 true", med, lo, hi, ok)
	}
	if med, lo, hi, ok := Stats([]float64{0.5, 0.125, 1, 0.25}); med != 0.375 || lo != 0.125 || hi != 1 || !ok {
		t.Errorf("Stats(float64) = %v %v %v %v, want 0.375 0.125 1 true", med, lo, hi, ok)
	}
}

func TestFormat(t *testing.T) {
	ms := time.Millisecond
	tests := []struct{ got, want string }{
		{MsNum(0), "0.0"},
		{MsNum(12345 * time.Microsecond), "12.3"},
		{MsNum(99 * ms), "99.0"},
		{MsNum(100 * ms), "100"},
		{MsNum(3614 * ms), "3614"},
		{MsNum(-50 * ms), "-50.0"},
		{MsNum(-150 * ms), "-150"},
		{Ms(7 * ms), "7.0 ms"},
		{Ms(2550 * ms), "2550 ms"},
		{Seconds(30 * time.Second), "30 s"},
		{Seconds(1400 * ms), "1 s"},
		{Seconds(29600 * ms), "30 s"},
		{FirstLine("one line"), "one line"},
		{FirstLine("the VIP never answered again\nlog lines"), "the VIP never answered again"},
		{FirstLine(strings.Repeat("x", 301)), strings.Repeat("x", 300) + "…"},
		{FirstLine(strings.Repeat("x", 300)), strings.Repeat("x", 300)},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}

func TestMiB(t *testing.T) {
	tests := []struct {
		b    int64
		want float64
	}{{0, 0}, {1 << 20, 1}, {15 << 20, 15}, {3 << 19, 1.5}}
	for _, tt := range tests {
		if got := MiB(tt.b); got != tt.want {
			t.Errorf("MiB(%d) = %v, want %v", tt.b, got, tt.want)
		}
	}
}
