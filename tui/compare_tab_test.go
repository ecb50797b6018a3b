package tui

import (
	"context"
	"strings"
	"testing"

	"blockprof/tui/common"
	compareview "blockprof/tui/compare"
	"blockprof/tui/internal/fakedeps"
	ts "blockprof/tui/internal/teststep"
)

// comparing adds a devices comparison to the fake deps.
type comparing struct {
	*fakedeps.Deps
	calls int
}

func (c *comparing) Compare(_ context.Context, devices []string) (compareview.Data, error) {
	c.calls++
	d := compareview.Data{Devices: devices, Units: 1}
	for range devices {
		d.Labels, d.Weak = append(d.Labels, "simulated"), append(d.Weak, "")
	}
	r := compareview.Row{Unit: 1, What: "e6k7"}
	for i := range devices {
		x := 0.01 * float64(i+1)
		r.Sides = append(r.Sides, compareview.Side{Rel: x, Lo: x - 0.001, Hi: x + 0.001})
	}
	d.Rows = []compareview.Row{r}
	return d, nil
}

// TestCompareTab: the Compare tab is there when the deps compare and the
// session has two or more devices; 4 and shift+tab reach it, and it asks
// the deps once when shown.
func TestCompareTab(t *testing.T) {
	sp, err := fakedeps.Space("ofa-mbv3-w1.0")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		devices int
		compare bool
		want    bool
	}{
		{"two devices", 2, true, true},
		{"one device", 1, true, false},
		{"deps that cannot compare", 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := fakedeps.New(sp)
			for len(d.Devs) < tc.devices {
				d.Devs = append(d.Devs, common.DeviceInfo{Name: "extra", Kind: "sim"})
			}
			d.Devs = d.Devs[:tc.devices]
			c := &comparing{Deps: d}
			var deps Deps = d
			if tc.compare {
				deps = c
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			m := New(ctx, deps, Options{NoColor: true, Width: 100, Height: 30})
			if got := strings.Contains(m.tabs(), "4 Compare"); got != tc.want {
				t.Fatalf("tab shown %v, want %v: %q", got, tc.want, m.tabs())
			}
			m, _ = settle(t, m, ts.Key("4"))
			if (m.Active() == Compare) != tc.want {
				t.Fatalf("4: view %v", m.Active())
			}
			if !tc.want {
				return
			}
			if c.calls != 1 || !strings.Contains(m.render(), "Compare · effects") || !strings.Contains(m.render(), "e6k7") {
				t.Errorf("%d comparisons; screen:\n%s", c.calls, m.render())
			}
			m, _ = settle(t, m, ts.Keys("1", "shift+tab", "shift+tab", "shift+tab")...)
			if m.Active() != Compare {
				t.Errorf("shift+tab ×3 from Devices: %v, want Compare", m.Active())
			}
			m, _ = settle(t, m, ts.Key("shift+tab"))
			if m.Active() != Devices {
				t.Errorf("shift+tab from Compare: %v, want Devices", m.Active())
			}
		})
	}
}
