package config

import "reflect"

// Diff sorts the groups of a reload: added and changed groups (in new's
// order), removed ones (in old's order), and unchanged ones, which keep
// their state and timers (VR-B33). old may be nil, at the first load.
func Diff(old, new *Config) (added, removed, changed, unchanged []GroupKey) {
	before := map[GroupKey]*Group{}
	if old != nil {
		for i := range old.Groups {
			before[old.Groups[i].Key] = &old.Groups[i]
		}
	}
	after := map[GroupKey]bool{}
	for i := range new.Groups {
		g := &new.Groups[i]
		after[g.Key] = true
		switch prev, ok := before[g.Key]; {
		case !ok:
			added = append(added, g.Key)
		case reflect.DeepEqual(prev, g):
			unchanged = append(unchanged, g.Key)
		default:
			changed = append(changed, g.Key)
		}
	}
	if old != nil {
		for _, g := range old.Groups {
			if !after[g.Key] {
				removed = append(removed, g.Key)
			}
		}
	}
	return added, removed, changed, unchanged
}
