//go:build e2e

package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/hasuite/hasuite/ctsyncd/internal/ct"
)

func TestProbeWiden(t *testing.T) {
	o := newOpsLab(t, syncConfig("accept-protocol tcp"))
	tb := openTable(t, o.r1.node)
	tb.create(t, ct.ProtoTCP, 0, 20)
	tb.create(t, ct.ProtoUDP, 0, 20)
	rows := o.waitSameCaches(t, convergence)
	t.Log(protocolsIn(rows), len(rows))
	o.r1.writeSyncConfig(t, syncConfig())
	out, err := o.r1.reload(t)
	t.Log(strings.Join(strings.Fields(out), " "), err)
	time.Sleep(3 * time.Second)
	rows = o.waitSameCaches(t, convergence)
	t.Log(protocolsIn(rows), len(rows))
}
