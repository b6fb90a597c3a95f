package show

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	vrrpv1 "github.com/hasuite/hasuite/proto/hasuite/vrrp/v1"
)

// TestJSON checks --json by parsing it: protojson's whitespace is
// deliberately unstable, so no golden file.
func TestJSON(t *testing.T) {
	cases := []struct {
		name string
		msg  proto.Message
		// keys that must be present, as dotted paths into the first list
		// element's object.
		want map[string]any
	}{
		{"VR_O02_MasterMACOnlyInJSON", &vrrpv1.ShowVrrpResponse{Groups: guideGroups()},
			map[string]any{"groups.master.mac": "00:0c:29:11:b2:75", "groups.state": "STATE_BACKUP", "groups.lastTransition": "2026-11-23T11:57:42Z"}},
		{"VR_O03_ZeroCountersPresent", &vrrpv1.ShowStatisticsResponse{Groups: []*vrrpv1.GroupStatistics{{Interface: "eth0", Group: 10, AdvertsReceived: 290}}},
			map[string]any{"groups.advertsReceived": "290", "groups.priorityZeroSent": "0"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := JSON(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(out), "}\n") {
				t.Errorf("output does not end with a newline: %q", out)
			}
			back := tc.msg.ProtoReflect().New().Interface()
			if err := protojson.Unmarshal(out, back); err != nil {
				t.Fatalf("output does not parse back: %v\n%s", err, out)
			}
			if !proto.Equal(back, tc.msg) {
				t.Errorf("round trip changed the message:\n%s", out)
			}
			var doc map[string]any
			if err := json.Unmarshal(out, &doc); err != nil {
				t.Fatal(err)
			}
			for path, want := range tc.want {
				if got := lookup(doc, strings.Split(path, ".")); got != want {
					t.Errorf("%s = %v, want %v", path, got, want)
				}
			}
		})
	}
}

// lookup follows keys through objects, taking the first element of lists.
func lookup(v any, keys []string) any {
	for _, k := range keys {
		if list, ok := v.([]any); ok && len(list) > 0 {
			v = list[0]
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = obj[k]
	}
	return v
}

// TestNoSecretsInAPI guards the "secrets never printed" rule at its root:
// no message of the API may have a field that could carry a password, so
// no renderer, JSON included, can print one.
func TestNoSecretsInAPI(t *testing.T) {
	file := vrrpv1.File_hasuite_vrrp_v1_vrrp_proto
	var walk func(protoreflect.MessageDescriptors)
	walk = func(msgs protoreflect.MessageDescriptors) {
		for i := range msgs.Len() {
			m := msgs.Get(i)
			for j := range m.Fields().Len() {
				f := m.Fields().Get(j)
				name := strings.ToLower(string(f.Name()))
				for _, secret := range []string{"password", "secret", "auth_data", "passphrase"} {
					if strings.Contains(name, secret) {
						t.Errorf("%s.%s may carry a secret", m.FullName(), f.Name())
					}
				}
			}
			walk(m.Messages())
		}
	}
	walk(file.Messages())
}

// TestEveryEnumValueHasAName keeps the renderers in step with the proto:
// a new enum value must get its words here, not print "UNKNOWN".
func TestEveryEnumValueHasAName(t *testing.T) {
	for n := range vrrpv1.State_name {
		s := vrrpv1.State(n)
		if s != vrrpv1.State_STATE_UNSPECIFIED && stateName(s) == "UNKNOWN" {
			t.Errorf("stateName(%v) has no name", s)
		}
	}
	for n := range vrrpv1.TakeoverPhase_name {
		p := vrrpv1.TakeoverPhase(n)
		if p != vrrpv1.TakeoverPhase_TAKEOVER_PHASE_UNSPECIFIED && phaseName(p) == "Unknown phase" {
			t.Errorf("phaseName(%v) has no name", p)
		}
	}
	for n := range vrrpv1.AuthType_name {
		a := vrrpv1.AuthType(n)
		if a > vrrpv1.AuthType_AUTH_TYPE_NONE && authName(a) == "none" {
			t.Errorf("authName(%v) has no name", a)
		}
	}
}
