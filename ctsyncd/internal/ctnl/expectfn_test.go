package ctnl

import (
	"testing"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

// TestExpectFn (CS-C04): an expectation with NAT information is written
// with the function that NATs the expected connection, or the kernel NATs
// nothing (the FTP data connection to a DNATed VIP is refused after a
// failover); one without NAT information, or of a helper whose function
// cannot be told, gets none.
func TestExpectFn(t *testing.T) {
	nat := sampleExpect()
	nat.Helper, nat.Fn, nat.NATTuple = "ftp", "", ct.Tuple{Proto: ct.ProtoTCP, SrcPort: 41089}
	plain := nat
	plain.NATTuple = ct.Tuple{}
	h323 := nat
	h323.Helper = "Q.931"
	sip := nat
	sip.Helper = "sip"
	for _, tc := range []struct {
		name string
		x    ct.Expect
		want string
	}{
		{"ftp with NAT", nat, "nat-follow-master"},
		{"ftp without NAT", plain, ""},
		{"sip with NAT", sip, "sip"},
		{"h323 with NAT", h323, ""},
		{"h323 with its function carried", withFn(h323, "Q.931"), "Q.931"},
		{"carried function without NAT", withFn(plain, "nat-follow-master"), "nat-follow-master"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, payload, _, err := splitMessage(AppendExpect(nil, 1, &tc.x, false))
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			b := payload[nfgenLen:]
			for {
				typ, v, rest, ok, err := nextAttr(b)
				if err != nil {
					t.Fatal(err)
				}
				if !ok {
					break
				}
				if typ == ctaExpFn {
					got = string(cString(v))
				}
				b = rest
			}
			if got != tc.want {
				t.Errorf("CTA_EXPECT_FN %q, want %q", got, tc.want)
			}
		})
	}
}

func withFn(x ct.Expect, fn string) ct.Expect {
	x.Fn = fn
	return x
}
