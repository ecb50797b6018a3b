package model

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzParseArch feeds the arch decoder canonical strings and OFA JSON: it
// must never panic, and whatever it accepts must round-trip and expand.
func FuzzParseArch(f *testing.F) {
	ss := defaultSpaces(f)
	for _, name := range ss.Names() {
		sp := ss.mustGet(f, name)
		a := sp.MaxArch(sp.Resolution)
		f.Add(name, a.String())
		js, _ := json.Marshal(sp.ToOFA(sp.MinArch(sp.Resolution)))
		f.Add(name, string(js))
	}
	f.Add("ofa-mbv3", "ofa-mbv3:224:e3k3,,/")
	f.Add("ofa-resnet50", "ofa-resnet50:224:d9w99/")
	f.Fuzz(func(t *testing.T, space, text string) {
		sp, err := ss.Get(space)
		if err != nil {
			return
		}
		a, err := sp.ParseArchAny(text)
		if err != nil {
			return
		}
		b, err := sp.ParseArch(a.String())
		if err != nil || b.String() != a.String() {
			t.Fatalf("accepted %q but its canonical form %q does not round-trip: %v", text, a, err)
		}
		if _, err := sp.FromOFA(sp.ToOFA(a)); err != nil {
			t.Fatalf("accepted %q but its OFA form fails: %v", text, err)
		}
		if _, err := sp.Network(a); err != nil {
			t.Fatalf("accepted %q but Network fails: %v", text, err)
		}
	})
}

// FuzzParseSpaces feeds the space loader arbitrary TOML: no panic, and
// every accepted space validates and builds its extreme networks.
func FuzzParseSpaces(f *testing.F) {
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(data))
	f.Add("[spaces.x]\nfamily = \"mbconv\"\nresolutions = [32]\n[spaces.x.stem]\nwidth = 8\n[[spaces.x.units]]\nwidth = 8\ndepths = [1]\nkernels = [3]\nexpands = [1]\n[[spaces.x.head]]\nkind = \"linear\"\nwidth = 10\n")
	f.Add("[spaces.y]\nfamily = \"bottleneck\"")
	f.Fuzz(func(t *testing.T, text string) {
		ss, err := ParseSpaces([]byte(text), "fuzz.toml")
		if err != nil {
			return
		}
		for _, name := range ss.Names() {
			sp := ss.mustGet(t, name)
			if err := sp.Validate(); err != nil {
				t.Fatalf("accepted space %s fails Validate: %v", name, err)
			}
			for _, r := range sp.Resolutions {
				if _, err := sp.Network(sp.MaxArch(r)); err != nil {
					t.Fatalf("space %s: max arch at %d: %v", name, r, err)
				}
				if _, err := sp.Network(sp.MinArch(r)); err != nil {
					t.Fatalf("space %s: min arch at %d: %v", name, r, err)
				}
			}
		}
	})
}
