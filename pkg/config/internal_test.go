package config

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestCompareNatural(t *testing.T) {
	sorted := []string{"", "0", "00", "01", "1", "1.2.3.4", "2", "5", "10", "10.6.0.55", "96.97.98.99", "99", "100",
		"eth", "eth0", "eth1", "eth2", "eth10", "eth10.5", "eth10.40", "ethernet", "rule", "vrrp", "vrrp-group"}
	shuffled := slices.Clone(sorted)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	slices.SortFunc(shuffled, compareNatural)
	if !slices.Equal(shuffled, sorted) {
		t.Errorf("sorted as\n%q\nwant\n%q", shuffled, sorted)
	}
}

// TestCompareNaturalIsATotalOrder checks antisymmetry and transitivity on
// random strings made of the characters that matter (digits, zeros, dots,
// letters), since sorted insertion and binary search rely on both.
func TestCompareNaturalIsATotalOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	word := func() string {
		const alphabet = "0019a.-"
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 20000 {
		a, b, c := word(), word(), word()
		if compareNatural(a, b) != -compareNatural(b, a) {
			t.Fatalf("not antisymmetric: %q %q", a, b)
		}
		if (compareNatural(a, b) == 0) != (a == b) {
			t.Fatalf("equal only when identical: %q %q", a, b)
		}
		if compareNatural(a, b) <= 0 && compareNatural(b, c) <= 0 && compareNatural(a, c) > 0 {
			t.Fatalf("not transitive: %q %q %q", a, b, c)
		}
	}
}

func TestSuggest(t *testing.T) {
	cluster := []string{"dead-interval", "group", "interface", "keepalive-interval", "mcast-group", "monitor-dead-interval", "pre-shared-secret"}
	group := []string{"auto-failback", "monitor", "primary", "secondary", "service"}
	vrrp := []string{"advertise-interval", "authentication", "description", "disable", "hello-source-address", "interface", "preempt", "preempt-delay", "priority"}
	for _, tc := range []struct {
		name       string
		candidates []string
		want       string
	}{
		{"dead-inteval", cluster, "dead-interval"},
		{"auto-fallback", group, "auto-failback"},
		{"advertisement-interval", vrrp, "advertise-interval"},
		{"keepalive", cluster, ""},
		{"prority", vrrp, "priority"},
		{"pirority", vrrp, "priority"},
		{"monitr", group, "monitor"},
		{"xyz", group, ""},
		{"bgp", cluster, ""},
	} {
		if got := suggest(tc.name, tc.candidates); got != tc.want {
			t.Errorf("suggest(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"a", "", 1}, {"", "abc", 3}, {"kitten", "sitting", 3},
		{"ab", "ba", 1}, {"dead-inteval", "dead-interval", 1}, {"auto-fallback", "auto-failback", 1},
		{"advertisement-interval", "advertise-interval", 4},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestParseServices(t *testing.T) {
	ports := parseServices(strings.NewReader(`# services(5)
ssh		22/tcp				# SSH Remote Login Protocol
http		80/tcp		www		# WorldWideWeb HTTP
http		80/udp
sip		5060/tcp
sip		5061/udp	# a later port for the same name does not win
bogus		x/tcp
zero		0/tcp
short
`))
	want := map[string]uint16{"ssh": 22, "http": 80, "www": 80, "sip": 5060}
	if len(ports) != len(want) {
		t.Errorf("got %v, want %v", ports, want)
	}
	for name, port := range want {
		if ports[name] != port {
			t.Errorf("%s = %d, want %d", name, ports[name], port)
		}
	}
}

// TestQuoteRoundTrip: every string the printer writes, bare or quoted,
// reads back as one token with the same text.
func TestQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "two words", "tab\there", "new\nline", `back\slash`, `q"uote`, "{", "}", "#x", "x#", "/*x", "x/*",
		"\x00", "\x7f", "\xff\xfe", "é–", "\uFEFF", "\r", " lead", "trail ", "!secret!", "a:"} {
		lx := &lexer{src: []byte("k " + quote(s)), pos: Pos{Line: 1, Col: 1}}
		toks, err := lx.all()
		if err != nil {
			t.Errorf("%q printed as %s does not lex: %v", s, quote(s), err)
			continue
		}
		if len(toks) != 3 || toks[1].text != s {
			t.Errorf("%q printed as %s reads back as %+v", s, quote(s), toks)
		}
	}
}
