package metrics

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", t.Name()+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func sample() []Family {
	return []Family{
		{Name: "vrrpd_group_state", Help: "1 for the group's current state.", Type: Gauge, Samples: []Sample{
			{Labels: L("group", "eth0/99", "state", "MASTER"), Value: 1},
			{Labels: L("group", `odd"name\`+"\n", "state", "BACKUP"), Value: 0},
		}},
		{Name: "vrrpd_adverts_sent_total", Help: "Adverts sent.\nSecond line with a \\.", Type: Counter, Samples: []Sample{
			{Labels: L("group", "eth0/99"), Value: 12345678901},
			{Value: math.Inf(1)},
			{Value: 0.25},
		}},
	}
}

func TestWrite(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, sample()); err != nil {
		t.Fatal(err)
	}
	golden(t, buf.Bytes())
}

func TestWriteRejectsInvalidNames(t *testing.T) {
	for _, f := range []Family{
		{Name: "9lives", Type: Gauge},
		{Name: "ok", Type: Gauge, Samples: []Sample{{Labels: L("bad-label", "x")}}},
		{Name: "", Type: Gauge},
	} {
		if err := Write(io.Discard, []Family{f}); err == nil {
			t.Errorf("Write(%+v) succeeded, want an error", f)
		}
	}
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var fail atomic.Bool
	collect := func(context.Context) ([]Family, error) {
		if fail.Load() {
			return nil, errors.New("engine stopped")
		}
		return sample(), nil
	}
	log := slog.New(slog.DiscardHandler)
	ln, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr()
	stopped := Serve(ctx, ln, collect, log)
	get := func() (*http.Response, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr.String() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	resp, body := get()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Errorf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `vrrpd_group_state{group="eth0/99",state="MASTER"} 1`) {
		t.Errorf("scrape lacks the master sample:\n%s", body)
	}
	fail.Store(true)
	if resp, _ := get(); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a failing collector answered %d, want 503", resp.StatusCode)
	}
	cancel()
	if err := <-stopped; err != nil {
		t.Errorf("server ended with %v", err)
	}
	if _, err := Listen("256.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "--metrics-listen") {
		t.Errorf("Listen on an invalid address: %v, want an error naming --metrics-listen", err)
	}
}
