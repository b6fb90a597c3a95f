package config

import "strings"

// suggest returns the candidate closest to name, for "did you mean" hints,
// or "" when nothing is close. Close means an edit distance (insertions,
// deletions, substitutions and swaps of neighbours) of at most a third of
// the name's length, and at least 2: that covers the guide's own typos,
// dead-inteval → dead-interval, auto-fallback → auto-failback and
// advertisement-interval → advertise-interval, without proposing unrelated
// names.
func suggest(name string, candidates []string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	for _, c := range candidates {
		if d := editDistance(name, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the optimal-string-alignment distance between a and b,
// counted in bytes (node names are ASCII).
func editDistance(a, b string) int {
	// Three rows are enough: the transposition looks two rows back.
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// unknownNode reports a name the schema does not declare under spec, with
// the closest declared name as a hint, or the list of what is allowed.
func unknownNode(spec *Spec, name string, pos Pos, path Path) *Diagnostic {
	names := spec.childNames()
	if hint := suggest(name, names); hint != "" {
		return diagf(pos, path, "unknown node (did you mean %s?)", hint)
	}
	if len(names) == 0 {
		return diagf(pos, path, "unknown node (nothing is allowed here)")
	}
	return diagf(pos, path, "unknown node (allowed here: %s)", strings.Join(names, ", "))
}

// childNames lists the declared children in declaration order, without
// aliases and ignored nodes: the names worth suggesting.
func (s *Spec) childNames() []string {
	var names []string
	for _, c := range s.children {
		if c.ignored == "" {
			names = append(names, c.name)
		}
	}
	return names
}
