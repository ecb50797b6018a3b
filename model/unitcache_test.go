package model

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestParseArchShared checks that archs parsed through a UnitCache equal
// ParseArch's, share the layers of equal units, and stay independent: an
// append to one arch's unit leaves every other arch as it was.
func TestParseArchShared(t *testing.T) {
	ss := defaultSpaces(t)
	for _, name := range ss.Names() {
		t.Run(name, func(t *testing.T) {
			sp := ss.mustGet(t, name)
			rng := NewRand(11)
			c := NewUnitCache()
			var texts []string
			var got []Arch
			for i := range 2000 {
				text := sp.Sample(rng, sp.Resolutions[i%len(sp.Resolutions)]).String()
				a, err := sp.ParseArchShared(text, c)
				if err != nil {
					t.Fatalf("%s: %v", text, err)
				}
				want, err := sp.ParseArch(text)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(a, want) {
					t.Fatalf("shared parse of %s gave %s", text, a)
				}
				texts, got = append(texts, text), append(got, a)
			}
			units, distinct := 0, map[*Block]bool{}
			for _, a := range got {
				for _, u := range a.Units {
					units++
					distinct[unsafe.SliceData(u)] = true
				}
			}
			if len(distinct) >= units {
				t.Fatalf("%d units in %d backing arrays: nothing shared", units, len(distinct))
			}
			// Grow every unit of every arch by one layer, then reread all:
			// a shared unit is capped, so each append copied.
			for _, a := range got {
				for u := range a.Units {
					a.Units[u] = append(a.Units[u], Block{K: 99})
				}
			}
			for i, a := range got {
				if i%2 == 0 {
					continue
				}
				for u := range a.Units {
					a.Units[u] = a.Units[u][:len(a.Units[u])-1]
				}
				if s := a.String(); s != texts[i] {
					t.Fatalf("arch %d reads %s after appends to other archs, want %s", i, s, texts[i])
				}
			}
		})
	}
}

// TestParseArchSharedChecksEveryUnit parses, through one cache, a unit
// that is allowed where it first appears and the same unit where it is
// not: the second arch fails as ParseArch fails it.
func TestParseArchSharedChecksEveryUnit(t *testing.T) {
	ss := defaultSpaces(t)
	mb := ss.mustGet(t, "ofa-mbv3")
	r := ReductionOf(mb, "no-e6k7-in-unit-2")
	r.Units[1].Blocks = slices.DeleteFunc(r.Units[1].Blocks, func(k string) bool { return k == "e6k7" })
	sp, err := r.Apply(mb)
	if err != nil {
		t.Fatal(err)
	}
	c := NewUnitCache()
	ok := "ofa-mbv3:224:e6k7,e6k7/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"
	bad := "ofa-mbv3:224:e3k3,e3k3/e6k7,e6k7/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"
	if _, err := sp.ParseArchShared(ok, c); err != nil {
		t.Fatal(err)
	}
	_, want := sp.ParseArch(bad)
	_, err = sp.ParseArchShared(bad, c)
	if err == nil || want == nil || err.Error() != want.Error() {
		t.Fatalf("shared parse of %s: %v, want the unshared error %v", bad, err, want)
	}
	// A failed arch leaves nothing in the cache for the next one.
	broken := "ofa-mbv3:224:e3k3,zz/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"
	if _, err := sp.ParseArchShared(broken, c); err == nil || !strings.Contains(err.Error(), `"zz"`) {
		t.Fatalf("shared parse of %s: %v", broken, err)
	}
	if _, ok := c.units["e3k3,zz"]; ok {
		t.Fatal("a unit of an arch that failed was cached")
	}
}

// BenchmarkParseSeries parses 20,000 sampled archs, as a series of the
// explorer's cap does, with and without a shared unit cache; -benchmem
// shows what the series holds.
func BenchmarkParseSeries(b *testing.B) {
	ss := defaultSpaces(b)
	for _, name := range []string{"ofa-mbv3-w1.0", "ofa-pn-w1.3", "ofa-resnet50"} {
		sp, err := ss.Get(name)
		if err != nil {
			b.Fatal(err)
		}
		rng := NewRand(3)
		texts := make([]string, 20000)
		for i := range texts {
			texts[i] = sp.Sample(rng, sp.Resolution).String()
		}
		for _, shared := range []bool{false, true} {
			mode := "own"
			if shared {
				mode = "shared"
			}
			b.Run(name+"/"+mode, func(b *testing.B) {
				for b.Loop() {
					var c *UnitCache
					if shared {
						c = NewUnitCache()
					}
					for _, text := range texts {
						if _, err := sp.parseArch(text, c); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}
