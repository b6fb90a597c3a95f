package config_test

import (
	"slices"
	"testing"

	"github.com/hasuite/hasuite/pkg/config"
)

func TestDiff(t *testing.T) {
	for _, tc := range []struct {
		desc     string
		old, new string
		want     []string
	}{
		{desc: "same", old: vrrpFile, new: vrrpFile},
		{desc: "layout and comments do not matter", old: "a { b 1 }", new: "/* x */\na {\n    b 1\n}\n"},
		{desc: "leaf changed", old: "a { b 1 }", new: "a { b 2 }", want: []string{"~ a b 1 -> 2"}},
		{desc: "multi order matters", old: "s x\ns y", new: "s y\ns x", want: []string{"~ s [x y] -> [y x]"}},
		{desc: "multi value added", old: "s x", new: "s x\ns y", want: []string{"~ s x -> [x y]"}},
		{desc: "flag added and removed", old: "a { f }", new: "a { g }", want: []string{"- a f", "+ a g"}},
		{desc: "subtree added leaf by leaf", old: "", new: "r 10 { i eth0 { } w 1 }",
			want: []string{"+ r 10 i eth0", "+ r 10 w 1"}},
		{desc: "subtree removed", old: "r 5 { x \"a b\" }\nr 10 { }", new: "r 10 { }", want: []string{`- r 5 x "a b"`}},
		{desc: "kind changed", old: "a 1", new: "a { b 2 }", want: []string{"- a 1", "+ a b 2"}},
		{desc: "empty block filled", old: "a { }", new: "a { b 2 }", want: []string{"- a", "+ a b 2"}},
		{desc: "canonical order", old: "z 1\nrule 10 { }\nrule 9 { }", new: "z 2\nrule 9 { x }\nrule 10 { y }",
			want: []string{"- rule 9", "+ rule 9 x", "- rule 10", "+ rule 10 y", "~ z 1 -> 2"}},
	} {
		t.Run(tc.desc, func(t *testing.T) {
			changes := config.Diff(mustParse(t, nil, tc.old), mustParse(t, nil, tc.new))
			var got []string
			for _, c := range changes {
				got = append(got, c.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant %q", changes, tc.want)
			}
		})
	}
}

func TestDiffNilTreesAndKinds(t *testing.T) {
	tree := mustParse(t, nil, "a { b 1 }\nc")
	added := config.Diff(nil, tree)
	want := config.Changes{
		{Kind: config.Added, Path: config.Path{"a", "b"}, New: []string{"1"}},
		{Kind: config.Added, Path: config.Path{"c"}},
	}
	if len(added) != len(want) {
		t.Fatalf("got %v", added)
	}
	for i := range want {
		if added[i].Kind != want[i].Kind || !slices.Equal(added[i].Path, want[i].Path) ||
			!slices.Equal(added[i].New, want[i].New) || added[i].Old != nil {
			t.Errorf("change %d = %+v, want %+v", i, added[i], want[i])
		}
	}
	if removed := config.Diff(tree, nil); len(removed) != 2 || removed[0].Kind != config.Removed || !slices.Equal(removed[0].Old, []string{"1"}) {
		t.Errorf("Diff(tree, nil) = %+v", removed)
	}
	if config.Diff(nil, nil) != nil {
		t.Error("Diff(nil, nil) is not empty")
	}
	if s := config.Changed.String(); s != "changed" {
		t.Errorf("Changed.String() = %q", s)
	}
}

func TestChangesTouchesAndUnder(t *testing.T) {
	old := mustParse(t, nil, vrrpFile)
	new := old.Clone()
	if err := new.Delete(config.MustPath("interfaces ethernet eth0 vrrp vrrp-group 99 priority")); err != nil {
		t.Fatal(err)
	}
	changes := config.Diff(old, new)
	group := func(id string) config.Path { return config.MustPath("interfaces ethernet eth0 vrrp vrrp-group " + id) }
	for _, tc := range []struct {
		path    config.Path
		touched bool
	}{
		{group("99"), true},
		{group("101"), false},
		{config.MustPath("interfaces"), true},
		{nil, true},
		{config.MustPath("interfaces ethernet eth1"), false},
	} {
		if got := changes.Touches(tc.path); got != tc.touched {
			t.Errorf("Touches(%s) = %v", tc.path, got)
		}
		if got := len(changes.Under(tc.path)) > 0; got != tc.touched {
			t.Errorf("Under(%s) = %v", tc.path, changes.Under(tc.path))
		}
	}
}
