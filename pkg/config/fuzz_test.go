package config_test

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hasuite/hasuite/pkg/config"
)

// FuzzParse checks, for any input, that parsing never panics, that a parse
// error is a *config.Diagnostic, and that whatever parses prints to a text
// which parses back to an equal tree (with or without the schema) and
// prints the same again. Crashers found are kept in testdata/fuzz.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/guide/*.conf", "testdata/guide/*.golden", "testdata/guide/broken/*.conf"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			f.Add(readFile(f, file))
		}
	}
	f.Add([]byte("a \"x\\ty\" { b \"\" }\n# c\nd /* e */ f"))

	f.Fuzz(func(t *testing.T, src []byte) {
		for name, parse := range map[string]func(string, []byte) (*config.Tree, error){
			"layout-guided": config.Parse, "schema-guided": guideSchema.Parse,
		} {
			tree, err := parse("fuzz.conf", src)
			if err != nil {
				var d *config.Diagnostic
				if !errors.As(err, &d) {
					t.Fatalf("%s: error %v is not a *config.Diagnostic", name, err)
				}
				continue
			}
			printed := tree.Format()
			for againName, parseAgain := range map[string]func(string, []byte) (*config.Tree, error){
				"layout-guided": config.Parse, name: parse,
			} {
				again, err := parseAgain("printed", printed)
				if err != nil {
					t.Fatalf("%s tree printed, then %s parse: %v\n%s", name, againName, err, printed)
				}
				if !again.Equal(tree) {
					t.Fatalf("%s tree printed, then %s parse gives another tree:\n%s\n---\n%s", name, againName, printed, again.Format())
				}
				if reprinted := again.Format(); !bytes.Equal(reprinted, printed) {
					t.Fatalf("%s: printing is not idempotent:\n%s\n---\n%s", name, printed, reprinted)
				}
				if d := config.Diff(tree, again); len(d) != 0 {
					t.Fatalf("%s: equal trees differ: %s", name, d)
				}
			}
			_ = tree.SetStyle()
			_, _ = guideSchema.Validate(tree)
		}
	})
}

// FuzzPath checks that a parsed path prints to a string that parses back
// to the same words.
func FuzzPath(f *testing.F) {
	for _, s := range []string{"interfaces ethernet eth0 vrrp", `system login user "dave smith"`, `a "" "q\"" #x`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := config.ParsePath(s)
		if err != nil {
			return
		}
		again, err := config.ParsePath(p.String())
		if err != nil || !slices.Equal(again, p) {
			t.Fatalf("%q -> %q -> %q (%v)", s, p.String(), again, err)
		}
	})
}
