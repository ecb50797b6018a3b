package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/model"
)

func embedded(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestParseEmbedded(t *testing.T) {
	c, err := Parse([]byte(embedded(t)), EmbeddedName)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Device("cpu"); err != nil {
		t.Error(err)
	}
	if c.Plan.Space != "ofa-mbv3-w1.0" || c.Search.Initial != 100 || c.Search.Children != 200 || c.Search.Generations != 10 {
		t.Errorf("plan %+v search %+v", c.Plan, c.Search)
	}
}

// TestParseErrors: every error names the file, the line and the key.
func TestParseErrors(t *testing.T) {
	base := embedded(t)
	tests := []struct {
		name, from, to, want string
		// at is the start of the line the error must point at, at or
		// after the edit ("" : the edit's first line).
		at string
	}{
		{"unknown plan space", `space = "ofa-mbv3-w1.0"`, `space = "ofa-mbv9"`, `plan.space: unknown space "ofa-mbv9"`, ""},
		{"bad resolution", "resolution = 224\nuniform", "resolution = 225\nuniform", "plan.resolution: 225 not allowed", ""},
		{"bad sampler", `sampler = "paper"`, `sampler = "random"`, `plan.sampler: "random"`, ""},
		{"unknown device kind", `kind = "ort"`, `kind = "tpu"`, `kind "tpu": want one of`, ""},
		{"duplicate device", `name = "sim-npu"`, `name = "cpu"`, `device name "cpu" is used twice`, ""},
		{"bad timeout", `timeout = "2m"`, `timeout = "soon"`, `devices.1.timeout: device cpu: "soon": want a Go duration`, ""},
		{"absurd timeout", `timeout = "2m"`, `timeout = "100000h"`, `devices.1.timeout: device cpu: "100000h"`, ""},
		{"unknown key", "[plan]\n", "[plan]\nunifrom = 3\n", "unknown key plan.unifrom", "unifrom"},
		{"bad search", "mutate_prob = 0.5", "mutate_prob = 1.5", "search.mutate_prob: 1.5 outside (0, 1]", ""},
		{"NaN mutate_prob", "mutate_prob = 0.5", "mutate_prob = nan", "search.mutate_prob: NaN outside (0, 1]", ""},
		{"negative probe_every", "probe_every = 10", "probe_every = -1", "devices.1.probe_every: device cpu: -1 outside 0..10000", ""},
		{"probe_every on a sim device", `sim = { preset = "npu" }`, "sim = { preset = \"npu\" }\nprobe_every = 5", "probe_every applies to kind ort only", "probe_every"},
		// The audit's negative timing settings: each refused, none replaced
		// by its default.
		{"negative repeat", "repeat = 50", "repeat = -5", "devices.1.repeat: device cpu: -5 outside 0..100000", ""},
		{"negative max_repeat", "max_repeat = 100", "max_repeat = -1", "devices.1.max_repeat: device cpu: -1 outside 0..100000", ""},
		{"negative warmup", "warmup = 2 ", "warmup = -3 ", "devices.1.warmup: device cpu: -3 outside 0..10000", ""},
		{"negative target_spread", "target_spread = 0.05", "target_spread = -0.5", "devices.1.target_spread: device cpu: -0.5 outside [0, 1]", ""},
		{"negative retries", "retries = 2", "retries = -7", "plan.retries: -7 outside 0..100", ""},
		{"max_repeat below the default repeat", "repeat = 50\nmax_repeat = 100", "max_repeat = 10", "devices.1.max_repeat: device cpu: 10 is below repeat 50", ""},
		{"sim key in an inline table", `sim = { preset = "npu" }`, `sim = { preset = "npu", gmacs = -400 }`, "devices.3.sim.gmacs: device sim-npu: -400 outside [0, 1e+07]", ""},
		{"sim key in a sub-table", `sim = { preset = "npu" }`, "[devices.sim]\npreset = \"npu\"\nkernel_factor = { 4 = 3.0 }", "devices.3.sim.kernel_factor: device sim-npu: key \"4\"", "kernel_factor"},
		{"device name with an escape", `name = "sim-npu"`, `name = "sim\u001b[2J"`, `devices.3.name: device name sim\x1b[2J holds control characters`, ""},
		{"plan too large", "per_location = 0", "per_location = 100000", "plan.per_location: plan: uniform 150 + per_location 100000 × 180 locations", ""},
		{"search budget", "children = 200\ngenerations = 10", "children = 2000\ngenerations = 10000", "search.generations: initial 100 + children 2000 × generations 10000 = 20000100 evaluations", "generations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			i := strings.Index(base, tc.from)
			if i < 0 {
				t.Fatal("edit did not apply")
			}
			text := base[:i] + tc.to + base[i+len(tc.from):]
			at := strings.Split(tc.to, "\n")[0]
			if tc.at != "" {
				at = tc.at
			}
			line := strings.Count(text[:i], "\n") + 1
			for _, l := range strings.Split(text, "\n")[line-1:] {
				if strings.HasPrefix(l, at) {
					break
				}
				line++
			}
			_, err := Parse([]byte(text), "my.toml")
			prefix := fmt.Sprintf("my.toml:%d: ", line)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), prefix) {
				t.Fatalf("error %v, want %s… %q", err, prefix, tc.want)
			}
		})
	}
}

// FuzzParse: no input panics, and an accepted config has a plan space and
// valid devices.
func FuzzParse(f *testing.F) {
	f.Add(embedded(f))
	f.Add("[plan]\nuniform = -1\n")
	// The hostile configs of issue 13, each after the embedded spaces (a
	// fixture with its own spaces replaces them).
	files, _ := filepath.Glob("testdata/hostile/config/*.toml")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if strings.Contains(string(b), "[spaces.") {
			f.Add(string(b))
		} else {
			f.Add(embedded(f) + "\n" + string(b))
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse([]byte(text), "fuzz.toml")
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.toml") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		sp, err := c.Spaces.Get(c.Plan.Space)
		if err != nil {
			t.Fatalf("accepted config with plan space %q: %v", c.Plan.Space, err)
		}
		for _, d := range c.Devices {
			if err := d.Validate(); err != nil {
				t.Fatalf("accepted device %s: %v", d.Name, err)
			}
			if err := d.Protocol().Validate(); err != nil {
				t.Fatalf("accepted device %s: %v", d.Name, err)
			}
		}
		if n := sp.PlanSize(c.PlanSpec()); n < 0 || n > model.MaxPlanArchs {
			t.Fatalf("accepted a plan of %d archs", n)
		}
		s := c.Search
		if s.Initial < 1 || s.Initial > MaxPopulation || s.Children < 1 || s.Children > MaxPopulation || s.Generations < 0 || s.Generations > MaxGenerations ||
			!(s.MutateProb > 0 && s.MutateProb <= 1) || int64(s.Initial)+int64(s.Children)*int64(s.Generations) > MaxSearchEvaluations {
			t.Fatalf("accepted search %+v", s)
		}
		p := c.Plan
		if p.Retries < 0 || p.Retries > MaxRetries || p.MaxFailures < 0 || p.MaxFailures > MaxFailures || p.ReferenceEvery < 0 || p.ReferenceEvery > MaxReferenceEvery {
			t.Fatalf("accepted plan %+v", p)
		}
	})
}

// TestLoadInheritsEmbeddedSpaces: a user file with only devices and a plan
// uses the embedded spaces; its own errors still name its file.
func TestLoadInheritsEmbeddedSpaces(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/mine.toml"
	if err := os.WriteFile(path, []byte("[plan]\nspace = \"ofa-pn-w1.3\"\nuniform = 7\n\n[[devices]]\nname = \"npu\"\nkind = \"sim\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []byte(embedded(t)))
	if err != nil {
		t.Fatal(err)
	}
	if c.Plan.Space != "ofa-pn-w1.3" || c.Plan.Uniform != 7 || len(c.Devices) != 1 || len(c.Spaces.Names()) != 4 {
		t.Errorf("plan %+v, %d devices, spaces %v", c.Plan, len(c.Devices), c.Spaces.Names())
	}
	if err := os.WriteFile(path, []byte("[plan]\nuniform = 'x'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path, []byte(embedded(t))); err == nil || !strings.HasPrefix(err.Error(), path+":2") {
		t.Errorf("type error: %v", err)
	}
}
