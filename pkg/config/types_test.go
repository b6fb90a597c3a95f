package config_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/pkg/config"
)

// TestTypes lists accepted values (want "") and refused ones with the
// message that tells the administrator what is allowed.
func TestTypes(t *testing.T) {
	vrrpInterval := config.Duration(time.Second, time.Second, 255*time.Second)
	clusterInterval := config.Duration(time.Millisecond, 100*time.Millisecond, 60*time.Second)
	for _, tc := range []struct {
		typ   config.Type
		value string
		want  string
	}{
		{config.Int(1, 255), "150", ""},
		{config.Int(1, 255), "255", ""},
		{config.Int(1, 255), "300", "300 out of range 1-255"},
		{config.Int(1, 255), "0", "0 out of range 1-255"},
		{config.Int(1, 255), "-1", "-1 out of range 1-255"},
		{config.Int(1, 255), "+5", "+5 is not an integer (allowed: 1-255)"},
		{config.Int(1, 255), "1.5", "1.5 is not an integer (allowed: 1-255)"},
		{config.Int(1, 255), "", `"" is not an integer (allowed: 1-255)`},
		{config.Int(1, 4294967295), "99999999999999999999", "99999999999999999999 out of range 1-4294967295"},

		{config.Enum("plaintext-password", "ah"), "ah", ""},
		{config.Enum("plaintext-password", "ah"), "md5", "md5 is not one of plaintext-password|ah"},
		{config.Bool(), "true", ""},
		{config.Bool(), "yes", "yes is not one of true|false"},

		{config.IPv4(), "10.6.0.55", ""},
		{config.IPv4(), "300.1.1.1", "300.1.1.1 is not an IPv4 address a.b.c.d"},
		{config.IPv4(), "10.0.0.0/8", "10.0.0.0/8 is not an IPv4 address a.b.c.d"},
		{config.IPv4(), "fe80::1", "fe80::1 is not an IPv4 address a.b.c.d"},
		{config.IPv4(), "::ffff:1.2.3.4", "::ffff:1.2.3.4 is not an IPv4 address a.b.c.d"},
		{config.IPv4Prefix(), "0.0.0.0/0", ""},
		{config.IPv4Prefix(), "172.16.0.24/24", ""},
		{config.IPv4Prefix(), "172.16.0.24", "172.16.0.24 is not an IPv4 prefix a.b.c.d/len"},
		{config.IPv4Prefix(), "172.16.0.24/33", "172.16.0.24/33 is not an IPv4 prefix a.b.c.d/len"},
		{config.IPv4OrPrefix(), "12.34.56.100", ""},
		{config.IPv4OrPrefix(), "172.16.0.24/24", ""},
		{config.IPv4OrPrefix(), "172.16.0/24", "172.16.0/24 is not an IPv4 address a.b.c.d with optional /len"},

		{config.AddressSpecType(), "10.0.0.0/8", ""},
		{config.AddressSpecType(), "!10.0.0.0/8", ""},
		{config.AddressSpecType(), "1.2.3.4", ""},
		{config.AddressSpecType(), "!1.2.3.4-1.2.3.9", ""},
		{config.AddressSpecType(), "1.2.3.4–1.2.3.9", ""},
		{config.AddressSpecType(), "1.2.3.9-1.2.3.4", "address range 1.2.3.9-1.2.3.4: the first address is above the last"},
		{config.AddressSpecType(), "1.2.3.4-x", "1.2.3.4-x is not an address range (allowed: [!]a.b.c.d, [!]a.b.c.d/len or [!]a.b.c.d-a.b.c.d)"},
		{config.AddressSpecType(), "!!1.2.3.4", "!!1.2.3.4 is not an address, prefix or range (allowed: [!]a.b.c.d, [!]a.b.c.d/len or [!]a.b.c.d-a.b.c.d)"},

		{config.PortListType(testServices), "!22,telnet,http,123,1001-1005", ""},
		{config.PortListType(testServices), "sip", ""},
		{config.PortListType(testServices), "sip-tls", ""},
		{config.PortListType(testServices), "ssh-http", ""},
		{config.PortListType(testServices), "htp", "port list htp: unknown service htp (not in /etc/services; give a port number 1-65535)"},
		{config.PortListType(testServices), "0", "port list 0: port 0 out of range 1-65535"},
		{config.PortListType(testServices), "70000", "port list 70000: port 70000 out of range 1-65535"},
		{config.PortListType(testServices), "99999999999999999999999", "port list 99999999999999999999999: port 99999999999999999999999 out of range 1-65535"},
		{config.PortListType(testServices), "22x", "port list 22x: 22x is not a port number (1-65535)"},
		{config.PortListType(testServices), "30-20", "port list 30-20: range 30-20: the first port is above the last"},
		{config.PortListType(testServices), "22,,23", "port list 22,,23: empty entry"},
		{config.PortListType(testServices), "22,!23", "port list 22,!23: '!' is allowed only at the start (it negates the whole list)"},
		{config.PortListType(testServices), "!", "empty port list !"},
		{config.PortListType(nil), "http", "port list http: unknown service http (not in /etc/services; give a port number 1-65535)"},

		{config.IfName(), "eth0", ""},
		{config.IfName(), "enp3s0f1.100v99", ""},
		{config.IfName(), "eth0123456789012", "interface name eth0123456789012 is longer than 15 characters"},
		{config.IfName(), "", "empty interface name"},
		{config.IfName(), "..", ".. is not a valid interface name"},
		{config.IfName(), "eth0/1", "interface name eth0/1 contains a character Linux does not allow ('/', ':' or white space)"},
		{config.IfName(), "eth0:0", "interface name eth0:0 contains a character Linux does not allow ('/', ':' or white space)"},
		{config.IfName(), "eth 0", `interface name "eth 0" contains a character Linux does not allow ('/', ':' or white space)`},
		{config.IfName(), "eth+", "interface name eth+: the wildcard '+' is not allowed here"},
		{config.IfNameWildcard(), "eth+", ""},
		{config.IfNameWildcard(), "eth0", ""},
		{config.IfNameWildcard(), "e+th", "interface name e+th: the wildcard '+' may only end the name (eth+)"},

		{vrrpInterval, "1", ""},
		{vrrpInterval, "255", ""},
		{vrrpInterval, "2s", ""},
		{vrrpInterval, "256", "256 out of range 1-255 seconds"},
		{vrrpInterval, "500ms", "500ms out of range 1-255 seconds"},
		{vrrpInterval, "-1", "-1 is not a duration (a number of seconds, or with a unit such as 500ms or 2s)"},
		{vrrpInterval, "fast", "fast is not a duration (a number of seconds, or with a unit such as 500ms or 2s)"},
		{vrrpInterval, "99999999999999999", "99999999999999999 out of range 1-255 seconds"},
		{clusterInterval, "5000", ""},
		{clusterInterval, "50", "50 out of range 100-60000 milliseconds"},
		{config.Duration(time.Second, 500*time.Millisecond, 10*time.Second), "0", "0 out of range 500ms-10s"},

		{config.String(), "", ""},
		{config.String(), "any text at all", ""},
		{config.StringMax(8), "12345678", ""},
		{config.StringMax(8), "vérifiée", ""},
		{config.StringMax(8), "123456789", "value is 9 characters long; at most 8 are allowed"},
		{groupName, "ALPHA", ""},
		{groupName, "two words", `"two words" is not allowed (a name of 1-64 letters, digits, '_', '.' or '-')`},
		{groupName, "", `"" is not allowed (a name of 1-64 letters, digits, '_', '.' or '-')`},

		{config.Either(config.IPv4(), config.Enum("dhcp")), "dhcp", ""},
		{config.Either(config.IPv4(), config.Enum("dhcp")), "12.34.56.1", ""},
		{config.Either(config.IPv4(), config.Enum("dhcp")), "gw", "gw is not valid (allowed: IPv4 address a.b.c.d or dhcp)"},
	} {
		t.Run(tc.typ.String()+"/"+tc.value, func(t *testing.T) {
			err := tc.typ.Check(tc.value)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("Check(%q) = %q, want %q", tc.value, got, tc.want)
			}
		})
	}
}

func TestTypeConstructorsRefuseNonsense(t *testing.T) {
	for name, build := range map[string]func(){
		"Int min>max":        func() { config.Int(5, 1) },
		"Duration zero unit": func() { config.Duration(0, 0, time.Second) },
		"Duration min>max":   func() { config.Duration(time.Second, 2*time.Second, time.Second) },
		"Pattern bad regexp": func() { config.Pattern("(", "x") },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s did not panic", name)
				}
			}()
			build()
		}()
	}
}

func TestAddressSpec(t *testing.T) {
	for _, tc := range []struct {
		in, canonical string
		in1, out1     string // an address inside and one outside
	}{
		{"10.0.0.0/8", "10.0.0.0/8", "10.9.9.9", "11.0.0.0"},
		{"!10.0.0.0/8", "!10.0.0.0/8", "11.0.0.0", "10.9.9.9"},
		{"1.2.3.4", "1.2.3.4", "1.2.3.4", "1.2.3.5"},
		{"1.2.3.4–1.2.3.9", "1.2.3.4-1.2.3.9", "1.2.3.9", "1.2.3.10"},
		{"!1.2.3.4-1.2.3.9", "!1.2.3.4-1.2.3.9", "1.2.3.3", "1.2.3.4"},
		{"0.0.0.0/0", "0.0.0.0/0", "8.8.8.8", ""},
	} {
		a, err := config.ParseAddressSpec(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if a.String() != tc.canonical {
			t.Errorf("%s prints as %s, want %s", tc.in, a, tc.canonical)
		}
		if !a.Contains(netip.MustParseAddr(tc.in1)) {
			t.Errorf("%s does not contain %s", tc.in, tc.in1)
		}
		if tc.out1 != "" && a.Contains(netip.MustParseAddr(tc.out1)) {
			t.Errorf("%s contains %s", tc.in, tc.out1)
		}
	}
}

func TestPortList(t *testing.T) {
	l, err := config.ParsePortList("!22,telnet,http,123,1001-1005,sip-tls, ssh-http", testServices)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := l.String(), "!22,23,80,123,1001-1005,5061,22-80"; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
	for port, want := range map[uint16]bool{22: false, 1003: false, 5061: false, 21: true, 81: true, 1006: true} {
		if l.Contains(port) != want {
			t.Errorf("Contains(%d) = %v", port, !want)
		}
	}
	if (config.PortList{}).Contains(80) {
		t.Error("the zero PortList matches")
	}
}

func TestSystemServices(t *testing.T) {
	// Only checks the lookup is wired to the system file; the format is
	// tested in TestParseServices.
	lookup := config.SystemServices()
	if _, ok := lookup("no-such-service-name-" + strings.Repeat("x", 20)); ok {
		t.Error("an absurd name resolved")
	}
}
