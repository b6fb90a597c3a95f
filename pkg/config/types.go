package config

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Type is the type of a leaf value or tag value. Daemons may implement
// their own; Check's error is shown after the node's path and must say
// what is allowed, e.g. "300 out of range 1-255".
type Type interface {
	// Check returns nil when value is allowed.
	Check(value string) error
	// String describes the allowed values ("integer 1-255").
	String() string
}

type intType struct{ min, max int64 }

// Int accepts decimal integers from min to max. It panics if min > max.
func Int(min, max int64) Type {
	if min > max {
		panic(fmt.Sprintf("config.Int: min %d above max %d", min, max))
	}
	return intType{min, max}
}

func (t intType) String() string { return fmt.Sprintf("integer %d-%d", t.min, t.max) }

func (t intType) Check(v string) error {
	_, err := t.parse(v)
	return err
}

func (t intType) parse(v string) (int64, error) {
	if v == "" || v[0] == '+' {
		return 0, fmt.Errorf("%s is not an integer (allowed: %d-%d)", quote(v), t.min, t.max)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange):
		return 0, fmt.Errorf("%s out of range %d-%d", v, t.min, t.max)
	case err != nil:
		return 0, fmt.Errorf("%s is not an integer (allowed: %d-%d)", quote(v), t.min, t.max)
	case n < t.min || n > t.max:
		return 0, fmt.Errorf("%s out of range %d-%d", v, t.min, t.max)
	}
	return n, nil
}

type enumType struct{ values []string }

// Enum accepts exactly one of values.
func Enum(values ...string) Type { return enumType{values} }

// Bool accepts `true` or `false`, the guide's spelling (`preempt true`).
func Bool() Type { return enumType{[]string{"true", "false"}} }

func (t enumType) String() string { return strings.Join(t.values, "|") }

func (t enumType) Check(v string) error {
	for _, allowed := range t.values {
		if v == allowed {
			return nil
		}
	}
	return fmt.Errorf("%s is not one of %s", quote(v), t)
}

type ipv4Form uint8

const (
	ipv4Address ipv4Form = iota
	ipv4Prefix
	ipv4AddressOrPrefix
)

type ipv4Type struct{ form ipv4Form }

// IPv4 accepts a dotted-quad IPv4 address.
func IPv4() Type { return ipv4Type{ipv4Address} }

// IPv4Prefix accepts address/len. The address keeps its host bits:
// 172.16.0.24/24 is the address .24 on a /24, as VRRP virtual addresses and
// cluster services mean it.
func IPv4Prefix() Type { return ipv4Type{ipv4Prefix} }

// IPv4OrPrefix accepts an address with an optional /len; without one the
// accessors give a /32.
func IPv4OrPrefix() Type { return ipv4Type{ipv4AddressOrPrefix} }

func (t ipv4Type) String() string {
	switch t.form {
	case ipv4Prefix:
		return "IPv4 prefix a.b.c.d/len"
	case ipv4AddressOrPrefix:
		return "IPv4 address a.b.c.d with optional /len"
	}
	return "IPv4 address a.b.c.d"
}

func (t ipv4Type) Check(v string) error {
	_, err := t.parse(v)
	return err
}

func (t ipv4Type) parse(v string) (netip.Prefix, error) {
	hasLen := strings.Contains(v, "/")
	var p netip.Prefix
	var err error
	if hasLen {
		p, err = parseIPv4Prefix(v)
	} else {
		var a netip.Addr
		a, err = parseIPv4(v)
		p = netip.PrefixFrom(a, 32)
	}
	if err != nil || hasLen && t.form == ipv4Address || !hasLen && t.form == ipv4Prefix {
		return netip.Prefix{}, fmt.Errorf("%s is not an %s", quote(v), t)
	}
	return p, nil
}

func parseIPv4(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("%s is not an IPv4 address", quote(s))
	}
	return a, nil
}

func parseIPv4Prefix(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("%s is not an IPv4 prefix", quote(s))
	}
	return p, nil
}

type ifNameType struct{ wildcard bool }

// IfName accepts a Linux interface name: 1-15 characters, no '/', ':' or
// white space, not "." or "..", and no '+'.
func IfName() Type { return ifNameType{} }

// IfNameWildcard is IfName that also accepts a trailing '+' matching any
// suffix, as iptables does (`inbound-interface eth+`).
func IfNameWildcard() Type { return ifNameType{wildcard: true} }

func (t ifNameType) String() string {
	if t.wildcard {
		return "interface name (a trailing + matches any suffix)"
	}
	return "interface name"
}

// ifNameMax is IFNAMSIZ without the terminating NUL.
const ifNameMax = 15

func (t ifNameType) Check(v string) error {
	switch {
	case v == "":
		return errors.New("empty interface name")
	case len(v) > ifNameMax:
		return fmt.Errorf("interface name %s is longer than %d characters", quote(v), ifNameMax)
	case v == "." || v == "..":
		return fmt.Errorf("%s is not a valid interface name", v)
	case strings.ContainsAny(v, "/:") || strings.ContainsFunc(v, isSpace):
		return fmt.Errorf("interface name %s contains a character Linux does not allow ('/', ':' or white space)", quote(v))
	}
	if i := strings.IndexByte(v, '+'); i >= 0 {
		if !t.wildcard {
			return fmt.Errorf("interface name %s: the wildcard '+' is not allowed here", v)
		}
		if i != len(v)-1 {
			return fmt.Errorf("interface name %s: the wildcard '+' may only end the name (eth+)", v)
		}
	}
	return nil
}

type durationType struct{ unit, min, max time.Duration }

// Duration accepts a time span: a plain number counts in unit (clusterd's
// intervals are in milliseconds, VRRP's in seconds), a number with a Go
// unit suffix (500ms, 2s, 1m30s) is taken as written. It must lie within
// min and max. It panics if unit is not positive or min > max.
func Duration(unit, min, max time.Duration) Type {
	if unit <= 0 || min > max {
		panic(fmt.Sprintf("config.Duration: bad unit %s or range %s-%s", unit, min, max))
	}
	return durationType{unit, min, max}
}

func (t durationType) String() string {
	return fmt.Sprintf("duration %s (or with a unit: 500ms, 2s)", t.rangeText())
}

func (t durationType) unitName() string {
	switch t.unit {
	case time.Millisecond:
		return "milliseconds"
	case time.Second:
		return "seconds"
	case time.Minute:
		return "minutes"
	}
	return "× " + t.unit.String()
}

// rangeText gives the range in the unit-less form the files use when it can.
func (t durationType) rangeText() string {
	if t.min%t.unit != 0 || t.max%t.unit != 0 {
		return fmt.Sprintf("%s-%s", t.min, t.max)
	}
	return fmt.Sprintf("%d-%d %s", t.min/t.unit, t.max/t.unit, t.unitName())
}

func (t durationType) Check(v string) error {
	_, err := t.parse(v)
	return err
}

func (t durationType) parse(v string) (time.Duration, error) {
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && v[0] != '+' && v[0] != '-' {
		if n > math.MaxInt64/int64(t.unit) {
			return 0, fmt.Errorf("%s out of range %s", v, t.rangeText())
		}
		d = time.Duration(n) * t.unit
	} else {
		d, err = time.ParseDuration(v)
		if err != nil || strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+") {
			return 0, fmt.Errorf("%s is not a duration (a number of %s, or with a unit such as 500ms or 2s)", quote(v), t.unitName())
		}
	}
	if d < t.min || d > t.max {
		return 0, fmt.Errorf("%s out of range %s", v, t.rangeText())
	}
	return d, nil
}

type stringType struct {
	maxLen  int // in characters; 0 = no limit
	pattern *regexp.Regexp
	allowed string
}

// String accepts any text, including the empty string.
func String() Type { return stringType{} }

// StringMax accepts text of at most n characters. Its error does not repeat
// the value, which may be a secret.
func StringMax(n int) Type { return stringType{maxLen: n} }

// Pattern accepts text the regular expression matches as a whole; allowed
// describes it for messages ("letters, digits, '_', '.', '-', at most 64").
// It panics if expr does not compile, like regexp.MustCompile.
func Pattern(expr, allowed string) Type {
	return stringType{pattern: regexp.MustCompile(`^(?:` + expr + `)$`), allowed: allowed}
}

func (t stringType) String() string {
	switch {
	case t.pattern != nil:
		return t.allowed
	case t.maxLen > 0:
		return fmt.Sprintf("text of at most %d characters", t.maxLen)
	}
	return "text"
}

func (t stringType) Check(v string) error {
	if n := utf8.RuneCountInString(v); t.maxLen > 0 && n > t.maxLen {
		return fmt.Errorf("value is %d characters long; at most %d are allowed", n, t.maxLen)
	}
	if t.pattern != nil && !t.pattern.MatchString(v) {
		return fmt.Errorf("%s is not allowed (%s)", quote(v), t.allowed)
	}
	return nil
}

type eitherType struct{ types []Type }

// Either accepts a value any of types accepts (WLB `nexthop`: an IPv4
// address or `dhcp`).
func Either(types ...Type) Type { return eitherType{types} }

func (t eitherType) String() string {
	names := make([]string, len(t.types))
	for i, typ := range t.types {
		names[i] = typ.String()
	}
	return strings.Join(names, " or ")
}

func (t eitherType) Check(v string) error {
	for _, typ := range t.types {
		if typ.Check(v) == nil {
			return nil
		}
	}
	return fmt.Errorf("%s is not valid (allowed: %s)", quote(v), t)
}
