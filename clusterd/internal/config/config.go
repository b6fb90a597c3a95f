package config

import (
	"fmt"
	"net/netip"
	"os"
	"time"

	hc "github.com/hasuite/hasuite/pkg/config"
)

// Config is a validated clusterd configuration with every default applied.
type Config struct {
	// Enabled is false when the file has no `cluster` node: clustering is
	// off and this node holds nothing (CL-C01). The other fields are then
	// zero.
	Enabled bool
	// Interfaces carry the heartbeats, in the order written (CL-C09).
	Interfaces []string
	// Secret keys the heartbeat HMAC (CL-C13). It never reaches JSON.
	Secret string `json:"-"`
	// KeepaliveInterval is the heartbeat (and monitor ping) period
	// (CL-C10, CL-B09).
	KeepaliveInterval time.Duration
	// DeadInterval: no heartbeat for this long and the peer is dead
	// (CL-C02).
	DeadInterval time.Duration
	// MonitorDeadInterval: no ping reply for this long and a monitor is
	// unreachable (CL-C12).
	MonitorDeadInterval time.Duration
	// InitDeadInterval is the startup wait for the peer's first heartbeat
	// (CL-B07, CL-Q09).
	InitDeadInterval time.Duration
	// McastGroup and Port are where heartbeats go (CL-C11).
	McastGroup netip.Addr
	Port       uint16
	// Peers, when set, receive the heartbeats by unicast instead of the
	// multicast group (CL-Q12).
	Peers []netip.Addr
	// Group is the resource group; the guide supports one (CL-C03).
	Group Group
	// Warnings are the problems that did not stop the load.
	Warnings hc.Diagnostics `json:"-"`
}

// Group is the resource group `cluster group <name>`.
type Group struct {
	Name string
	// Primary and Secondary are node names as `--node-name` (by default
	// the host name) gives them (CL-C06, CL-C07).
	Primary, Secondary string
	// Monitors in the order written, each once (CL-C05).
	Monitors []netip.Addr
	// Services in start order, each once, IP services with their alias
	// labels (CL-C08, CL-B13, CL-B15).
	Services []Service
	// AutoFailback returns the resources to the recovered primary
	// (CL-C04, CL-B19, CL-B20).
	AutoFailback bool
}

// Role is a node's part in the group.
type Role int

const (
	// RoleNone: the node is neither primary nor secondary; the group does
	// not run on it (CL-B02).
	RoleNone Role = iota
	RolePrimary
	RoleSecondary
)

func (r Role) String() string {
	switch r {
	case RolePrimary:
		return "primary"
	case RoleSecondary:
		return "secondary"
	}
	return "none"
}

// RoleOf returns the role of the node called name (CL-B02).
func (g *Group) RoleOf(name string) Role {
	switch name {
	case g.Primary:
		return RolePrimary
	case g.Secondary:
		return RoleSecondary
	}
	return RoleNone
}

// Peer returns the name of the other node of role r ("" for RoleNone).
func (g *Group) Peer(r Role) string {
	switch r {
	case RolePrimary:
		return g.Secondary
	case RoleSecondary:
		return g.Primary
	}
	return ""
}

// BusName is the group's name on the failover bus, `cluster/<group>`
// (CL-B22).
func (g *Group) BusName() string { return "cluster/" + g.Name }

// Resources lists the services as `show cluster status` names them
// (CL-O01).
func (g *Group) Resources() []string {
	out := make([]string, len(g.Services))
	for i, s := range g.Services {
		out[i] = s.Display()
	}
	return out
}

// Load reads and validates the file at path.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the clusterd configuration: %w", err)
	}
	return Parse(path, src)
}

// Parse validates src, named file in messages. Errors are hc.Diagnostics,
// each with file:line:col.
func Parse(file string, src []byte) (*Config, error) {
	loaded, err := schema.Load(file, src)
	if err != nil {
		return nil, err
	}
	return fromView(loaded.Root(), loaded.Warnings), nil
}

// Validate reports every warning and error of src, as `clusterd validate`
// shows them: the warnings come back even when there are errors. Whether
// the init scripts, resource scripts and interfaces exist is the daemon's
// check (Config.Scripts), not this package's.
func Validate(file string, src []byte) (warnings hc.Diagnostics, err error) {
	tree, err := schema.Parse(file, src)
	if err != nil {
		return nil, err
	}
	return schema.Validate(tree)
}

func fromView(root hc.View, warnings hc.Diagnostics) *Config {
	c := root.Child("cluster")
	if !c.Exists() {
		return &Config{Warnings: warnings}
	}
	cfg := &Config{
		Enabled:             true,
		Interfaces:          c.Strings("interface"),
		Secret:              c.String("pre-shared-secret"),
		KeepaliveInterval:   c.Duration("keepalive-interval"),
		DeadInterval:        c.Duration("dead-interval"),
		MonitorDeadInterval: c.Duration("monitor-dead-interval"),
		InitDeadInterval:    c.Duration("init-dead-interval"),
		McastGroup:          c.Addr("mcast-group"),
		Port:                uint16(c.Int("port")),
		Peers:               c.Addrs("peer-address"),
		Warnings:            warnings,
	}
	g := c.Instances("group")[0] // required, and only one
	cfg.Group = Group{
		Name:         g.Tag(),
		Primary:      g.String("primary"),
		Secondary:    g.String("secondary"),
		Monitors:     g.Addrs("monitor"),
		AutoFailback: g.Bool("auto-failback"),
	}
	for _, v := range g.Strings("service") {
		s, err := ParseService(v)
		if err != nil {
			panic(fmt.Sprintf("clusterd config: service %q passed validation but does not parse: %v", v, err))
		}
		cfg.Group.Services = append(cfg.Group.Services, s)
	}
	AssignLabels(cfg.Group.Services)
	return cfg
}

// Scripts lists the init and resource scripts the group runs, each once,
// in service order, for the daemon to check before applying a reload.
func (c *Config) Scripts() []Service {
	var out []Service
	for _, s := range c.Group.Services {
		if s.Kind != ServiceIP {
			out = append(out, s)
		}
	}
	return out
}
