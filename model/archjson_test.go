package model

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestParseArchJSON reads the "arch" field of a JSON line in both forms: a
// JSON string holding the canonical arch and an OFA object.
func TestParseArchJSON(t *testing.T) {
	ss := defaultSpaces(t)
	sp := ss.mustGet(t, "ofa-mbv3-w1.0")
	a := sp.Sample(NewRand(3), 224)
	str, _ := json.Marshal(a.String())
	obj, _ := json.Marshal(sp.ToOFA(a))
	tests := []struct {
		name, in, want, err string
	}{
		{name: "canonical string", in: string(str), want: a.String()},
		{name: "canonical string, spaces", in: "  " + string(str) + "\n", want: a.String()},
		{name: "OFA object", in: string(obj), want: a.String()},
		{name: "string of another space", in: `"ofa-mbv3:224:e4k3,e6k5/e3k7,e3k3,e4k5/e6k3,e6k3/e4k7,e4k5,e3k3,e6k7/e6k5,e4k3"`,
			err: `names space "ofa-mbv3", not "ofa-mbv3-w1.0"`},
		{name: "string, bad escape", in: `"ofa-mbv3-w1.0\q"`, err: "arch string"},
		{name: "object, unknown field", in: `{"ks":[3],"x":1}`, err: "unknown field"},
		{name: "number", in: `224`, err: "want a canonical string like"},
		{name: "null", in: `null`, err: "want a canonical string like"},
		{name: "empty", in: ``, err: "want a canonical string like"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sp.ParseArchJSON([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil || got.String() != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

// FuzzParseArchJSON feeds the JSON arch reader arbitrary bytes: it must not
// panic, and what it accepts must read back the same from both encodings.
func FuzzParseArchJSON(f *testing.F) {
	ss := defaultSpaces(f)
	sp := ss.mustGet(f, "ofa-mbv3-w1.0")
	a := sp.MaxArch(224)
	str, _ := json.Marshal(a.String())
	obj, _ := json.Marshal(sp.ToOFA(sp.MinArch(160)))
	f.Add(string(str))
	f.Add(string(obj))
	f.Add(`"ofa-mbv3-w1.0:224:e3k3\u002ce3k3/"`)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, text string) {
		a, err := sp.ParseArchJSON([]byte(text))
		if err != nil {
			return
		}
		str, _ := json.Marshal(a.String())
		obj, _ := json.Marshal(sp.ToOFA(a))
		for _, js := range [][]byte{str, obj} {
			b, err := sp.ParseArchJSON(js)
			if err != nil || b.String() != a.String() {
				t.Fatalf("accepted %q as %s but %s reads back as %s: %v", text, a, js, b, err)
			}
		}
	})
}
