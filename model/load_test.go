package model

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestConfigErrorsPointAtKey breaks the embedded config in several ways and
// checks that the error names the file, the line and the key.
func TestConfigErrorsPointAtKey(t *testing.T) {
	base, err := os.ReadFile("../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	lineOf := func(text, needle string, nth int) int {
		n := 0
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, needle) {
				n++
				if n == nth {
					return i + 1
				}
			}
		}
		t.Fatalf("%q not found", needle)
		return 0
	}
	src := string(base)
	tests := []struct {
		name    string
		edit    func(string) string
		wantKey string
		line    func(string) int
	}{
		{"depths not ascending", func(s string) string {
			return strings.Replace(s, "depths = [2, 3, 4]", "depths = [3, 2]", 1)
		}, "spaces.ofa-mbv3.units[1].depths", func(s string) int { return lineOf(s, "depths = [3, 2]", 1) }},
		{"bad family", func(s string) string {
			return strings.Replace(s, `family = "mbconv"`, `family = "transformer"`, 1)
		}, "spaces.ofa-mbv3.family", func(s string) int { return lineOf(s, `family = "transformer"`, 1) }},
		{"bad block key", func(s string) string {
			old := "kernels = [3, 5, 7]\nexpands = [3, 4, 6]"
			i := strings.Index(s, old) + 1
			i += strings.Index(s[i:], old)
			return s[:i] + "blocks = [\"e6k7\", \"zz\"]" + s[i+len(old):]
		}, "spaces.ofa-mbv3.units[2].blocks", func(s string) int { return lineOf(s, `blocks = ["e6k7", "zz"]`, 1) }},
		{"type error", func(s string) string {
			return strings.Replace(s, "width_mult = 1.2", "width_mult = \"wide\"", 1)
		}, "width_mult", func(s string) int { return lineOf(s, `width_mult = "wide"`, 1) }},
		{"syntax error", func(s string) string {
			return strings.Replace(s, "classes = 1000", "classes = = 1000", 1)
		}, "", func(s string) int { return lineOf(s, "classes = = 1000", 1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := tc.edit(src)
			if text == src {
				t.Fatal("edit did not apply")
			}
			_, err := ParseSpaces([]byte(text), "my.toml")
			if err == nil {
				t.Fatal("broken config accepted")
			}
			msg := err.Error()
			wantPrefix := "my.toml:" + strconv.Itoa(tc.line(text)) + ":"
			if !strings.HasPrefix(msg, wantPrefix) {
				t.Errorf("error %q does not start with %q", msg, wantPrefix)
			}
			if !strings.Contains(msg, tc.wantKey) {
				t.Errorf("error %q does not name %q", msg, tc.wantKey)
			}
		})
	}
}
