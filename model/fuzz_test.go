package model

import (
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"sync"
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
	// Hostile numbers (issue 13).
	f.Add("ofa-mbv3", "ofa-mbv3:100000000:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3")
	f.Add("ofa-mbv3", "ofa-mbv3:99999999999999999999:e3k3")
	f.Add("ofa-mbv3", "ofa-mbv3:224:e100000000k3,e3k-3/e1e308k3")
	f.Add("ofa-mbv3", `{"ks":[-3],"e":[1e308],"d":[100000000,2,2,2,2],"r":-224}`)
	// One cache per space lives across the inputs, as a series' cache lives
	// across its archs: a unit cached by one input must not change how a
	// later one parses.
	var mu sync.Mutex
	caches := map[string]*UnitCache{}
	f.Fuzz(func(t *testing.T, space, text string) {
		sp, err := ss.Get(space)
		if err != nil {
			return
		}
		mu.Lock()
		c := caches[space]
		if c == nil {
			c = NewUnitCache()
			caches[space] = c
		}
		shared, serr := sp.ParseArchShared(text, c)
		mu.Unlock()
		plain, perr := sp.ParseArch(text)
		if (serr == nil) != (perr == nil) || (serr != nil && serr.Error() != perr.Error()) {
			t.Fatalf("%q: shared parse says %v, plain parse says %v", text, serr, perr)
		}
		if perr == nil && !reflect.DeepEqual(shared, plain) {
			t.Fatalf("%q: shared parse %v differs from plain parse %v", text, shared, plain)
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
	// Hostile numbers (issue 13): the audit's and their kin.
	for _, edit := range [][2]string{
		{"depths = [2, 3, 4]", "depths = [2, 100000000]"},
		{"width = 24", "width = 2000000000"},
		{"width_mult = 1.2", "width_mult = nan"},
		{"width_mult = 1.2", "width_mult = -1.2"},
		{"expands = [3, 4, 6]", "expands = [3, 4, 1e300]"},
		{"kernels = [3, 5, 7]", "kernels = [3, 5, 9999]"},
		{"resolutions = [160, 176, 192, 208, 224]", "resolutions = [160, 100000]"},
		{"classes = 1000", "classes = -1000"},
	} {
		f.Add(strings.Replace(string(data), edit[0], edit[1], 1))
	}
	f.Add(largestSpace("mbconv"))
	f.Add(largestSpace("bottleneck"))
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
