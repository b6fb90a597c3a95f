package firewall

import (
	"slices"
	"sync"
)

// Fake records each group's latest rules, for the engine's tests.
type Fake struct {
	mu    sync.Mutex
	rules map[string][]Rule
}

// NewFake returns a Fake holding no rules.
func NewFake() *Fake { return &Fake{rules: map[string][]Rule{}} }

// Set implements the engine's Filter.
func (f *Fake) Set(g Group) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rules := Rules(g); len(rules) > 0 {
		f.rules[g.Key] = rules
		return
	}
	delete(f.rules, g.Key)
}

// Remove implements the engine's Filter.
func (f *Fake) Remove(key string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.rules, key)
}

// Rules returns the rules held for the group key.
func (f *Fake) Rules(key string) []Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.rules[key])
}
