package server

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/hasuite/hasuite/pkg/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// TestMetrics renders the scrape of two groups just started (BACKUP).
func TestMetrics(t *testing.T) {
	f := newFixture(t, twoGroups)
	fams, err := f.server.Metrics(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if err := metrics.Write(&got, fams); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "metrics.golden")
	if *update {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("scrape:\n%s\nwant:\n%s", got.Bytes(), want)
	}
}
