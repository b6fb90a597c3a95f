package netlab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// Node is one node of a lab: a named network namespace.
type Node struct {
	*namespace
	lab  *Lab
	spec NodeSpec
}

// Name is the node's name in the topology ("r1").
func (n *Node) Name() string { return n.spec.Name }

// Namespace is the name of the node's network namespace ("hsab12c-r1"), for
// `ip netns exec`.
func (n *Node) Namespace() string { return n.name }

// Netlink returns a netlink handle bound to the node's namespace. It belongs
// to the lab: do not close it.
func (n *Node) Netlink() *netlink.Handle { return n.nl }

// Do runs f in the node's namespace, on an OS thread locked to f for its
// duration; sockets f opens stay in the namespace after it returns.
// Goroutines f starts run elsewhere, in the program's own namespace.
func (n *Node) Do(f func() error) error { return inNamespace(n.handle, f) }

// Run runs a command in the node and returns its combined output. The error
// names the node and the command and carries the output.
func (n *Node) Run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.name, name}, args...)...)
	// A command that leaves a child holding its output open must not hang
	// the caller.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("node %s: %s: %w: %s", n.spec.Name, commandLine(name, args), err, bytes.TrimSpace(out))
	}
	return string(out), nil
}

func commandLine(name string, args []string) string {
	return strings.Join(append([]string{name}, args...), " ")
}

// SetSysctl writes a sysctl in the node, the key in dotted form
// ("net.ipv4.ip_forward").
func (n *Node) SetSysctl(key, value string) error {
	if err := writeSysctl(n.namespace, key, value); err != nil {
		return fmt.Errorf("node %s: %w", n.spec.Name, err)
	}
	return nil
}

// Sysctl reads a sysctl in the node.
func (n *Node) Sysctl(key string) (string, error) {
	var value []byte
	err := n.Do(func() error {
		var err error
		value, err = os.ReadFile(sysctlPath(key))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("node %s: read sysctl %s: %w", n.spec.Name, key, err)
	}
	return strings.TrimSpace(string(value)), nil
}

// writeSysctl writes under /proc/sys from inside the namespace: the net.*
// entries there belong to the namespace of the thread that opens them.
func writeSysctl(ns *namespace, key, value string) error {
	if err := checkSysctlKey(key); err != nil {
		return fmt.Errorf("sysctl %q: %w", key, err)
	}
	err := inNamespace(ns.handle, func() error {
		return os.WriteFile(sysctlPath(key), []byte(value), 0)
	})
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("set sysctl %s=%s: %w (is the module providing it loaded?)", key, value, err)
	}
	if err != nil {
		return fmt.Errorf("set sysctl %s=%s: %w", key, value, err)
	}
	return nil
}

func sysctlPath(key string) string {
	return filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
}

func (n *Node) link(ifname string) (netlink.Link, error) {
	link, err := n.nl.LinkByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("node %s: interface %s: %w", n.spec.Name, ifname, err)
	}
	return link, nil
}

// SetLinkUp brings one of the node's interfaces administratively up.
func (n *Node) SetLinkUp(ifname string) error {
	return n.onLink(ifname, "set up", n.nl.LinkSetUp)
}

// SetLinkDown brings one of the node's interfaces administratively down, as
// `ip link set dev X down` in the node would: the node sees its own
// interface down, a peer on a direct link loses carrier.
func (n *Node) SetLinkDown(ifname string) error {
	return n.onLink(ifname, "set down", n.nl.LinkSetDown)
}

// DeleteLink deletes one of the node's interfaces; with a veth its other
// end, bridge port or peer, goes too.
func (n *Node) DeleteLink(ifname string) error {
	return n.onLink(ifname, "delete", n.nl.LinkDel)
}

// onLink applies op to the node's interface ifname, naming both in an error.
func (n *Node) onLink(ifname, what string, op func(netlink.Link) error) error {
	link, err := n.link(ifname)
	if err == nil {
		err = op(link)
	}
	if err != nil {
		return fmt.Errorf("node %s: %s %s: %w", n.spec.Name, what, ifname, err)
	}
	return nil
}

// CutPort pulls the cable between the node's interface and its bridge by
// downing the bridge port in the switch namespace. The node keeps running
// with its interface up but without carrier; the rest of the segment stops
// hearing from it, as from a crashed node.
func (n *Node) CutPort(ifname string) error { return n.setPort(ifname, false) }

// RestorePort plugs the cable CutPort pulled back in.
func (n *Node) RestorePort(ifname string) error { return n.setPort(ifname, true) }

func (n *Node) setPort(ifname string, up bool) error {
	ifc, ok := n.spec.interfaceNamed(ifname)
	if !ok {
		return fmt.Errorf("node %s has no interface %s in the topology", n.spec.Name, ifname)
	}
	if ifc.Bridge == "" {
		return fmt.Errorf("node %s: %s is not plugged into a bridge: use SetLinkDown/SetLinkUp on a direct link", n.spec.Name, ifname)
	}
	port := portName(n.spec.Name, ifname)
	link, err := n.lab.sw.nl.LinkByName(port)
	if err == nil {
		if up {
			err = n.lab.sw.nl.LinkSetUp(link)
		} else {
			err = n.lab.sw.nl.LinkSetDown(link)
		}
	}
	if err != nil {
		return fmt.Errorf("node %s: set bridge port %s of %s up=%v: %w", n.spec.Name, port, ifname, up, err)
	}
	return nil
}
