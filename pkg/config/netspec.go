package config

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
)

// AddressSpec is a firewall-style address match (WLB rule `source` and
// `destination address`): an address, a prefix or an inclusive range, any
// of them optionally negated with a leading '!'.
type AddressSpec struct {
	// Negate inverts the match: everything except the addresses given.
	Negate bool
	// Prefix is the address or prefix as written (an address is a /32);
	// it is invalid when the spec is a range.
	Prefix netip.Prefix
	// First and Last bound a range (both inclusive); invalid otherwise.
	First, Last netip.Addr
}

// IsRange reports whether the spec was written as a range a.b.c.d-e.f.g.h.
func (a AddressSpec) IsRange() bool { return a.First.IsValid() }

// Contains reports whether ip matches the spec, negation included.
func (a AddressSpec) Contains(ip netip.Addr) bool {
	var in bool
	if a.IsRange() {
		in = a.First.Compare(ip) <= 0 && ip.Compare(a.Last) <= 0
	} else {
		in = a.Prefix.Contains(ip)
	}
	return in != a.Negate
}

// String gives the canonical form: "!10.0.0.0/8", "1.2.3.4", "1.2.3.4-1.2.3.9".
func (a AddressSpec) String() string {
	var s string
	switch {
	case a.IsRange():
		s = a.First.String() + "-" + a.Last.String()
	case a.Prefix.Bits() == 32:
		s = a.Prefix.Addr().String()
	default:
		s = a.Prefix.String()
	}
	if a.Negate {
		return "!" + s
	}
	return s
}

const addressSpecForms = "[!]a.b.c.d, [!]a.b.c.d/len or [!]a.b.c.d-a.b.c.d"

// ParseAddressSpec parses an AddressSpec. A range may be written with the
// en dash '–' the guide prints; host bits of a prefix are kept as written.
func ParseAddressSpec(s string) (AddressSpec, error) {
	var a AddressSpec
	var body string
	body, a.Negate = strings.CutPrefix(s, "!")
	if first, last, ok := cutDash(body); ok {
		f, err1 := parseIPv4(first)
		l, err2 := parseIPv4(last)
		if err1 != nil || err2 != nil {
			return AddressSpec{}, fmt.Errorf("%s is not an address range (allowed: %s)", quote(s), addressSpecForms)
		}
		if f.Compare(l) > 0 {
			return AddressSpec{}, fmt.Errorf("address range %s: the first address is above the last", s)
		}
		a.First, a.Last = f, l
		return a, nil
	}
	p, err := ipv4Type{ipv4AddressOrPrefix}.parse(body)
	if err != nil {
		return AddressSpec{}, fmt.Errorf("%s is not an address, prefix or range (allowed: %s)", quote(s), addressSpecForms)
	}
	a.Prefix = p
	return a, nil
}

// cutDash splits a range at '-' or the en dash '–'.
func cutDash(s string) (before, after string, found bool) {
	if before, after, found = strings.Cut(s, "-"); found {
		return before, after, true
	}
	return strings.Cut(s, "–")
}

type addressSpecType struct{}

// AddressSpecType accepts an AddressSpec: [!]address, [!]prefix or
// [!]first-last.
func AddressSpecType() Type { return addressSpecType{} }

func (addressSpecType) String() string { return "address, prefix or range: " + addressSpecForms }

func (addressSpecType) Check(v string) error {
	_, err := ParseAddressSpec(v)
	return err
}

// PortRange is an inclusive range of ports; a single port has First == Last.
type PortRange struct{ First, Last uint16 }

// PortList is a WLB port match such as `!22,telnet,http,123,1001-1005`.
type PortList struct {
	// Negate inverts the whole list (a leading '!').
	Negate bool
	// Ranges are the entries in the order written, names resolved.
	Ranges []PortRange
}

// Contains reports whether port matches the list, negation included.
func (l PortList) Contains(port uint16) bool {
	in := false
	for _, r := range l.Ranges {
		if r.First <= port && port <= r.Last {
			in = true
			break
		}
	}
	return in != l.Negate
}

// String gives the list with service names resolved: "!22-23,80".
func (l PortList) String() string {
	parts := make([]string, len(l.Ranges))
	for i, r := range l.Ranges {
		parts[i] = strconv.Itoa(int(r.First))
		if r.Last != r.First {
			parts[i] += "-" + strconv.Itoa(int(r.Last))
		}
	}
	s := strings.Join(parts, ",")
	if l.Negate {
		return "!" + s
	}
	return s
}

// ServiceLookup resolves a service name (`http`, `sip`) to its port.
type ServiceLookup func(name string) (port uint16, ok bool)

// StaticServices resolves names from a fixed table, for tests.
func StaticServices(ports map[string]uint16) ServiceLookup {
	return func(name string) (uint16, bool) {
		p, ok := ports[name]
		return p, ok
	}
}

var systemServices = sync.OnceValue(func() map[string]uint16 {
	f, err := os.Open("/etc/services")
	if err != nil {
		return nil // no names known; every name is then reported as unknown
	}
	defer f.Close()
	return parseServices(f)
})

// SystemServices resolves names from /etc/services (tcp or udp), read once
// on first use.
func SystemServices() ServiceLookup {
	return func(name string) (uint16, bool) {
		p, ok := systemServices()[name]
		return p, ok
	}
}

// parseServices reads the services(5) format: `name port/proto aliases...`
// with '#' comments. The first port given for a name wins.
func parseServices(r io.Reader) map[string]uint16 {
	ports := make(map[string]uint16)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		num, _, _ := strings.Cut(fields[1], "/")
		port, err := strconv.ParseUint(num, 10, 16)
		if err != nil || port == 0 {
			continue
		}
		for _, name := range append(fields[:1], fields[2:]...) {
			if _, seen := ports[name]; !seen {
				ports[name] = uint16(port)
			}
		}
	}
	return ports
}

// ParsePortList parses a comma-separated list of ports (1-65535), ranges
// a-b and service names, optionally negated as a whole by a leading '!'.
// A name that contains '-' (sip-tls) is looked up whole before the '-' is
// read as a range. Spaces around the commas (in a quoted value) are allowed.
func ParsePortList(s string, services ServiceLookup) (PortList, error) {
	var l PortList
	body, negate := strings.CutPrefix(s, "!")
	l.Negate = negate
	if body == "" {
		return PortList{}, fmt.Errorf("empty port list %s", quote(s))
	}
	for _, entry := range strings.Split(body, ",") {
		entry = strings.TrimSpace(entry)
		r, err := parsePortEntry(entry, services)
		if err != nil {
			return PortList{}, fmt.Errorf("port list %s: %w", quote(s), err)
		}
		l.Ranges = append(l.Ranges, r)
	}
	return l, nil
}

func parsePortEntry(entry string, services ServiceLookup) (PortRange, error) {
	switch {
	case entry == "":
		return PortRange{}, fmt.Errorf("empty entry")
	case strings.HasPrefix(entry, "!"):
		return PortRange{}, fmt.Errorf("'!' is allowed only at the start (it negates the whole list)")
	}
	p, err := parsePort(entry, services)
	if err == nil {
		return PortRange{p, p}, nil
	}
	first, last, isRange := strings.Cut(entry, "-")
	if !isRange {
		return PortRange{}, err
	}
	f, err := parsePort(first, services)
	if err != nil {
		return PortRange{}, err
	}
	l, err := parsePort(last, services)
	if err != nil {
		return PortRange{}, err
	}
	if f > l {
		return PortRange{}, fmt.Errorf("range %s: the first port is above the last", entry)
	}
	return PortRange{f, l}, nil
}

func parsePort(s string, services ServiceLookup) (uint16, error) {
	if s != "" && isDigit(s[0]) {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s is not a port number (1-65535)", quote(s))
		}
		if err != nil || n < 1 || n > 65535 {
			return 0, fmt.Errorf("port %s out of range 1-65535", s)
		}
		return uint16(n), nil
	}
	if services != nil {
		if p, ok := services(s); ok {
			return p, nil
		}
	}
	return 0, fmt.Errorf("unknown service %s (not in /etc/services; give a port number 1-65535)", quote(s))
}

type portListType struct{ services ServiceLookup }

// PortListType accepts a port list; services resolves names (use
// SystemServices, or StaticServices in tests).
func PortListType(services ServiceLookup) Type { return portListType{services} }

func (portListType) String() string {
	return "port list: numbers 1-65535, ranges a-b and service names, comma-separated, optionally negated by a leading !"
}

func (t portListType) Check(v string) error {
	_, err := ParsePortList(v, t.services)
	return err
}
