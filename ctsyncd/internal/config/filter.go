package config

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// acceptable are the protocols accept-protocol may name (CS-C02), in the
// order the guide lists them.
var acceptable = []struct {
	name  string
	proto uint8
}{
	{"tcp", ct.ProtoTCP},
	{"udp", ct.ProtoUDP},
	{"sctp", ct.ProtoSCTP},
	{"icmp", ct.ProtoICMP},
}

const protocolChoices = "tcp, udp, sctp, icmp"

// ProtoList is the set of L4 protocols accept-protocol lets through,
// sorted by number, each once. Nil means every protocol (accept-protocol
// absent), IGMP and GRE included (CS-C02).
type ProtoList []uint8

// String is the list as accept-protocol writes it ("tcp,udp"), or "all".
func (l ProtoList) String() string {
	if l == nil {
		return "all"
	}
	names := make([]string, len(l))
	for i, p := range l {
		names[i] = ct.ProtoName(p)
	}
	return strings.Join(names, ",")
}

// MarshalJSON gives the names (["tcp","udp"]), or null for every
// protocol, instead of base64 bytes.
func (l ProtoList) MarshalJSON() ([]byte, error) {
	if l == nil {
		return []byte("null"), nil
	}
	return json.Marshal(strings.Split(l.String(), ","))
}

// Accepts reports whether connections of protocol proto are synced.
func (l ProtoList) Accepts(proto uint8) bool { return l == nil || slices.Contains(l, proto) }

// ParseProtocols reads an accept-protocol value: names from tcp, udp,
// sctp, icmp separated by commas, with spaces around them allowed (the
// value is then quoted: "tcp, udp"). It returns the protocols sorted by
// number, each once, and the names written more than once, for a warning
// (CS-C02). The error says what is wrong and how to write it (CS-E03).
func ParseProtocols(value string) (ProtoList, []string, error) {
	if strings.TrimSpace(value) == "" {
		return nil, nil, fmt.Errorf("%q names no protocol: write a comma-separated list of %s, or delete accept-protocol to sync every protocol",
			value, protocolChoices)
	}
	var (
		out  ProtoList
		dups []string
	)
	parts := strings.Split(value, ",")
	for i, part := range parts {
		name := strings.TrimSpace(part)
		if name == "" && i == len(parts)-1 {
			// `accept-protocol tcp, udp` unquoted ends the value at the comma.
			return nil, nil, fmt.Errorf("%q: a name is missing after the last comma: write the list without spaces (tcp,udp) or quote it (\"tcp, udp\")", value)
		}
		if name == "" {
			return nil, nil, fmt.Errorf("%q: an empty name between commas: write e.g. tcp,udp", value)
		}
		if strings.ContainsFunc(name, isSpace) {
			return nil, nil, fmt.Errorf("%q: separate the protocols with commas, e.g. %s", value, strings.Join(strings.Fields(name), ","))
		}
		p, ok := protoByName(name)
		if !ok {
			hint := ""
			if lower := strings.ToLower(name); lower != name {
				if _, ok := protoByName(lower); ok {
					hint = " (write " + lower + ")"
				}
			}
			return nil, nil, fmt.Errorf("%q: %s is not a protocol accept-protocol knows%s: choose from %s, or delete accept-protocol to sync every protocol (GRE, IGMP... included)",
				value, name, hint, protocolChoices)
		}
		if slices.Contains(out, p) {
			if !slices.Contains(dups, name) {
				dups = append(dups, name)
			}
			continue
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return out, dups, nil
}

func protoByName(name string) (uint8, bool) {
	for _, a := range acceptable {
		if a.name == name {
			return a.proto, true
		}
	}
	return 0, false
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }

// expectAll is the expect-sync value that stands for every helper.
const expectAll = "all"

// ExpectHelpers are the expect-sync helpers in canonical order: the order
// Config.Expect lists them in, whatever order they were written in.
var ExpectHelpers = []string{"ftp", "sip", "h323", "nfs", "sqlnet"}

// canonicalExpect turns the expect-sync values into Config.Expect: every
// helper for `all`, otherwise those written, in ExpectHelpers' order; nil
// when expectations are not synced (CS-C04).
func canonicalExpect(values []string) []string {
	if len(values) == 0 {
		return nil
	}
	if slices.Contains(values, expectAll) {
		return slices.Clone(ExpectHelpers)
	}
	var out []string
	for _, h := range ExpectHelpers {
		if slices.Contains(values, h) {
			out = append(out, h)
		}
	}
	return out
}
