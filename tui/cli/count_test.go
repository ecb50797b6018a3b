package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCountArchForms counts the same arch given as a canonical string and as
// an OFA object, and names the line of a bad one.
func TestCountArchForms(t *testing.T) {
	sample := func(t *testing.T) archRecord {
		t.Helper()
		env, out, _ := analyzeEnv(t)
		if err := Run(env, []string{"sample", "--space", "ofa-mbv3-w1.0", "--n", "1", "--seed", "3"}); err != nil {
			t.Fatal(err)
		}
		var rec archRecord
		if err := json.Unmarshal(out.Bytes(), &rec); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		return rec
	}
	rec := sample(t)
	obj, _ := json.Marshal(rec.Arch)
	str, _ := json.Marshal(rec.Canonical)
	want := struct{ MACs, Params int64 }{rec.MACs, rec.Params}
	tests := []struct {
		name, in string
		n        int    // lines of output
		err      string // wanted error part
	}{
		{name: "canonical string", in: `{"arch": ` + string(str) + `}`, n: 1},
		{name: "OFA object", in: `{"arch": ` + string(obj) + `}`, n: 1},
		{name: "both, blank line between", in: `{"arch": ` + string(str) + "}\n\n" + `{"arch": ` + string(obj) + `}`, n: 2},
		{name: "wrong space", in: `{"arch": ` + string(str) + "}\n" + `{"arch": "ofa-mbv3:224:e4k3,e6k5/e3k7,e3k3,e4k5/e6k3,e6k3/e4k7,e4k5,e3k3,e6k7/e6k5,e4k3"}`,
			err: `stdin:2: arch "ofa-mbv3:224:`},
		{name: "number", in: `{"arch": 7}`, err: "stdin:1: arch 7: want a canonical string like"},
		{name: "no arch", in: `{"canonical": "x"}`, err: `stdin:1: no "arch" field`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env, out, _ := analyzeEnv(t)
			env.Stdin = strings.NewReader(tc.in)
			err := Run(env, []string{"count", "--space", "ofa-mbv3-w1.0", "--in", "-"})
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != tc.n {
				t.Fatalf("%d lines, want %d:\n%s", len(lines), tc.n, out.String())
			}
			for _, l := range lines {
				var got struct {
					MACs   int64 `json:"macs"`
					Params int64 `json:"params"`
				}
				if err := json.Unmarshal([]byte(l), &got); err != nil {
					t.Fatalf("%q: %v", l, err)
				}
				if got.MACs != want.MACs || got.Params != want.Params {
					t.Errorf("%q: want macs %d params %d (from sample)", l, want.MACs, want.Params)
				}
			}
		})
	}
}
