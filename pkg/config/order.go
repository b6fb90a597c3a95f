package config

import (
	"cmp"
	"strings"
)

// compareNatural orders node names and tag values the way an administrator
// expects to read them: runs of digits compare as numbers, so rule 5 comes
// before rule 10 and eth2 before eth10; everything else compares byte by byte.
// Strings that differ only in leading zeros ("01" and "1") fall back to plain
// byte order, which keeps the order total and therefore stable.
func compareNatural(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			x := strings.TrimLeft(a[si:i], "0")
			y := strings.TrimLeft(b[sj:j], "0")
			if len(x) != len(y) {
				return cmp.Compare(len(x), len(y))
			}
			if c := strings.Compare(x, y); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			return cmp.Compare(a[i], b[j])
		}
		i++
		j++
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
