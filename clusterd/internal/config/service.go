package config

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// ServiceKind says which of the guide's three service forms a `service`
// node holds (CL-C08).
type ServiceKind int

const (
	// ServiceIP is a cluster IP: `ip/prefix[/if-name[/broadcast]]`
	// (CL-C08a).
	ServiceIP ServiceKind = iota + 1
	// ServiceInit is an init script or systemd unit: `name` (CL-C08b).
	ServiceInit
	// ServiceScript is a resource script: `script::arg[::arg...]`
	// (CL-C08c).
	ServiceScript
)

// Service is one `service` node of the group, in configuration order
// (start order; stop order is the reverse, CL-B15).
type Service struct {
	Kind ServiceKind
	// Raw is the node's value as written, for messages.
	Raw string

	// ServiceIP: the cluster address with its prefix length, the interface
	// it goes on, whether that interface was defaulted (CL-Q02), the
	// broadcast address (invalid when computed from the prefix), and the
	// alias label (`eth0:0`, numbered per interface in service order,
	// CL-B13).
	Addr               netip.Prefix
	Interface          string
	InterfaceDefaulted bool
	Broadcast          netip.Addr
	Label              string

	// ServiceInit and ServiceScript: the script or unit name (a
	// `systemd:<unit>` service keeps its prefix here; Unit gives the
	// unit), and for ServiceScript the arguments that precede
	// start|stop|status.
	Name string
	Args []string
}

// Display is the service as `show cluster status` lists it in its
// Resources line: the bare address, the init name, or `script::args`
// verbatim (CL-O01).
func (s Service) Display() string {
	switch s.Kind {
	case ServiceIP:
		return s.Addr.Addr().String()
	case ServiceScript:
		return s.Raw
	default:
		return s.Name
	}
}

// String is the service in canonical form, the way `show cluster` prints
// it back: an IP service `/`-separated whatever form it was written in
// (CL-Q01), the interface only when it was written, the broadcast address
// only when it was given; other services as written.
func (s Service) String() string {
	switch s.Kind {
	case ServiceIP:
		out := s.Addr.String()
		if !s.InterfaceDefaulted || s.Broadcast.IsValid() {
			out += "/" + s.Interface
		}
		if s.Broadcast.IsValid() {
			out += "/" + s.Broadcast.String()
		}
		return out
	case ServiceScript:
		return s.Name + scriptSep + strings.Join(s.Args, scriptSep)
	default:
		return s.Name
	}
}

// MarshalText gives the kind's name (ip, init, script), so JSON reads
// well.
func (k ServiceKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

func (k ServiceKind) String() string {
	switch k {
	case ServiceIP:
		return "ip"
	case ServiceInit:
		return "init"
	case ServiceScript:
		return "script"
	}
	return "ServiceKind(" + strconv.Itoa(int(k)) + ")"
}

// systemdPrefix marks an init service that names a systemd unit outright
// (`systemd:strongswan`, CL-Q03) instead of an /etc/init.d script that
// falls back to `<name>.service`.
const systemdPrefix = "systemd:"

// scriptSep separates a resource script from its arguments and the
// arguments from each other (heartbeat's haresources convention).
const scriptSep = "::"

// Unit returns the systemd unit of a `systemd:<unit>` service, with
// `.service` added when the name has no unit suffix, and whether the
// service has that form. Other init services are looked up in the init
// directory first and fall back to `<Name>.service` at run time (CL-C08b).
func (s Service) Unit() (string, bool) {
	unit, ok := strings.CutPrefix(s.Name, systemdPrefix)
	if s.Kind != ServiceInit || !ok {
		return "", false
	}
	if !strings.Contains(unit, ".") {
		unit += ".service"
	}
	return unit, true
}

// sameResource reports whether a and b start the same thing: labels and
// the way the value was written do not count, so that a reload keeps a
// running service whose alias number moved (CL-B23).
func sameResource(a, b Service) bool {
	if a.Kind != b.Kind {
		return false
	}
	if a.Kind == ServiceIP {
		return a.Addr == b.Addr && a.Interface == b.Interface && a.Broadcast == b.Broadcast
	}
	return a.Name == b.Name && slices.Equal(a.Args, b.Args)
}

// ParseService reads one `service` value in any of the guide's forms
// (CL-C08a-c): `ip/prefix[/if-name[/broadcast]]`, the parameter table's
// space-separated `"ip/prefix if-name broadcast"` (quoted, CL-Q01), an
// init script or `systemd:<unit>`, or `script::arg[::arg...]`. Label is
// left empty: it depends on the services before this one (see Labels).
// The error says what is wrong and how to write it (CL-E03).
func ParseService(value string) (Service, error) {
	s := Service{Raw: value}
	fields := strings.Fields(value)
	switch {
	case len(fields) == 0:
		return s, errors.New("empty service: write ip/prefix[/interface[/broadcast]], an init script name, or script::args")
	case strings.Contains(value, scriptSep):
		return parseScript(s, value)
	case looksLikeAddress(fields[0]):
		return parseIPService(s, fields)
	case len(fields) > 1:
		return s, fmt.Errorf("%q: only an IP service may have spaces (ip/prefix interface broadcast); "+
			"pass script arguments as script::arg", value)
	default:
		return parseInit(s, value)
	}
}

// looksLikeAddress: the text before the first '/' is digits and dots, so
// the value is meant as an IP service and its errors are address errors.
func looksLikeAddress(field string) bool {
	head, _, _ := strings.Cut(field, "/")
	return head != "" && strings.Trim(head, "0123456789.") == ""
}

func parseIPService(s Service, fields []string) (Service, error) {
	s.Kind = ServiceIP
	parts := strings.Split(fields[0], "/")
	if len(fields) > 1 {
		// The parameter table's form: "ip/prefix if-name [broadcast]".
		if len(parts) != 2 || len(fields) > 3 {
			return s, fmt.Errorf("%q: write ip/prefix/interface[/broadcast] (or, quoted, \"ip/prefix interface broadcast\")", s.Raw)
		}
		parts = append(parts, fields[1:]...)
	}
	if len(parts) > 4 {
		return s, fmt.Errorf("%q: too many parts; write ip/prefix[/interface[/broadcast]]", s.Raw)
	}
	addr, err := netip.ParseAddr(parts[0])
	if err != nil || !addr.Is4() {
		return s, fmt.Errorf("%q: %s is not an IPv4 address", s.Raw, parts[0])
	}
	if len(parts) < 2 {
		return s, fmt.Errorf("%q: the prefix length is missing; write %s/24 (or the length of its subnet)", s.Raw, parts[0])
	}
	bits, err := strconv.Atoi(parts[1])
	if err != nil || bits < 1 || bits > 32 || parts[1] != strconv.Itoa(bits) {
		return s, fmt.Errorf("%q: prefix length %q must be 1-32", s.Raw, parts[1])
	}
	s.Addr = netip.PrefixFrom(addr, bits)
	if err := checkClusterAddr(s.Addr); err != nil {
		return s, fmt.Errorf("%q: %w", s.Raw, err)
	}
	s.Interface, s.InterfaceDefaulted = DefaultServiceInterface, true
	if len(parts) > 2 {
		if err := ifName.Check(parts[2]); err != nil {
			return s, fmt.Errorf("%q: %w", s.Raw, err)
		}
		s.Interface, s.InterfaceDefaulted = parts[2], false
	}
	if len(parts) > 3 {
		brd, err := netip.ParseAddr(parts[3])
		if err != nil || !brd.Is4() {
			return s, fmt.Errorf("%q: broadcast %s is not an IPv4 address", s.Raw, parts[3])
		}
		if !s.Addr.Contains(brd) {
			return s, fmt.Errorf("%q: broadcast %s is not in %s", s.Raw, brd, s.Addr.Masked())
		}
		s.Broadcast = brd
	}
	return s, nil
}

// checkClusterAddr refuses addresses no interface can serve as a cluster
// IP: special ranges, and the subnet's own network and broadcast
// addresses.
func checkClusterAddr(p netip.Prefix) error {
	a := p.Addr()
	switch {
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback(), a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return fmt.Errorf("%s cannot be a cluster address (not a unicast host address)", a)
	case p.Bits() <= 30 && a == p.Masked().Addr():
		return fmt.Errorf("%s is the network address of %s: choose a host address", a, p.Masked())
	case p.Bits() <= 30 && a == lastAddr(p):
		return fmt.Errorf("%s is the broadcast address of %s: choose a host address", a, p.Masked())
	}
	return nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// scriptName is what an init or resource script name may hold: a file
// name in its directory, never a path.
var scriptName = regexp.MustCompile(`^[A-Za-z0-9_@+][A-Za-z0-9_.@+-]*$`)

// unitName is a systemd unit name (letters, digits, ":_.\@-").
var unitName = regexp.MustCompile(`^[A-Za-z0-9_@:\\-][A-Za-z0-9_.@:\\-]*$`)

func parseInit(s Service, value string) (Service, error) {
	s.Kind, s.Name = ServiceInit, value
	if unit, ok := strings.CutPrefix(value, systemdPrefix); ok {
		if !unitName.MatchString(unit) || len(unit) > 255 {
			return s, fmt.Errorf("%q: %q is not a systemd unit name", value, unit)
		}
		return s, nil
	}
	if !scriptName.MatchString(value) {
		return s, fmt.Errorf("%q is not a script name in the init directory (letters, digits, '_', '.', '-', '@', '+'; no '/')", value)
	}
	return s, nil
}

func parseScript(s Service, value string) (Service, error) {
	s.Kind = ServiceScript
	parts := strings.Split(value, scriptSep)
	s.Name, s.Args = parts[0], parts[1:]
	switch {
	case s.Name == "":
		return s, fmt.Errorf("%q: the resource script name before :: is missing (write script::args)", value)
	case !scriptName.MatchString(s.Name):
		return s, fmt.Errorf("%q: %q is not a script name in the resource directory (letters, digits, '_', '.', '-', '@', '+'; no '/')", value, s.Name)
	}
	for i, a := range s.Args {
		if a == "" {
			return s, fmt.Errorf("%q: argument %d is empty (write script::arg[::arg...])", value, i+1)
		}
		if strings.ContainsFunc(a, unicode.IsControl) {
			return s, fmt.Errorf("%q: argument %d holds a control character", value, i+1)
		}
	}
	return s, nil
}

// AssignLabels numbers the IP services' alias labels per interface in
// service order, `eth1:0`, `eth0:0`, `eth0:1` (CL-B13), in place.
func AssignLabels(services []Service) {
	next := map[string]int{}
	for i := range services {
		if services[i].Kind != ServiceIP {
			continue
		}
		n := next[services[i].Interface]
		next[services[i].Interface] = n + 1
		services[i].Label = services[i].Interface + ":" + strconv.Itoa(n)
	}
}
