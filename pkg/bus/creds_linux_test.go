package bus

import (
	"slices"
	"testing"
)

func TestParseStatusGroups(t *testing.T) {
	tests := []struct {
		desc   string
		status string
		want   []uint32
	}{
		{"several", "Name:\tbash\nUid:\t1000\t1000\t1000\t1000\nGroups:\t4 24 27 4242 \nNStgid:\t1\n", []uint32{4, 24, 27, 4242}},
		{"none", "Name:\tinit\nGroups:\t\n", nil},
		{"no line", "Name:\tkthreadd\n", nil},
		{"garbage entries skipped", "Groups:\t4 x 9999999999 7\n", []uint32{4, 7}},
	}
	for _, tt := range tests {
		if got := parseStatusGroups([]byte(tt.status)); !slices.Equal(got, tt.want) {
			t.Errorf("%s: parseStatusGroups = %v, want %v", tt.desc, got, tt.want)
		}
	}
}
