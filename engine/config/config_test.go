package config

import (
	"os"
	"strings"
	"testing"
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
	}{
		{"unknown plan space", `space = "ofa-mbv3-w1.0"`, `space = "ofa-mbv9"`, `plan.space: unknown space "ofa-mbv9"`},
		{"bad resolution", "resolution = 224\nuniform", "resolution = 225\nuniform", "plan.resolution: 225 not allowed"},
		{"bad sampler", `sampler = "paper"`, `sampler = "random"`, `plan.sampler: "random"`},
		{"unknown device kind", `kind = "ort"`, `kind = "tpu"`, `kind "tpu": want one of`},
		{"duplicate device", `name = "sim-npu"`, `name = "cpu"`, `device name "cpu" is used twice`},
		{"bad timeout", `timeout = "2m"`, `timeout = "soon"`, `timeout "soon"`},
		{"unknown key", "[plan]\n", "[plan]\nunifrom = 3\n", "unknown key plan.unifrom"},
		{"bad search", "mutate_prob = 0.5", "mutate_prob = 1.5", "search: want"},
		{"negative probe_every", "probe_every = 10", "probe_every = -1", "probe_every=-1"},
		{"probe_every on a sim device", `sim = { preset = "npu" }`, "sim = { preset = \"npu\" }\nprobe_every = 5", "probe_every applies to kind ort only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(base, tc.from, tc.to, 1)
			if text == base {
				t.Fatal("edit did not apply")
			}
			_, err := Parse([]byte(text), "my.toml")
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "my.toml:") {
				t.Fatalf("error %v, want my.toml:LINE … %q", err, tc.want)
			}
		})
	}
}

// FuzzParse: no input panics, and an accepted config has a plan space and
// valid devices.
func FuzzParse(f *testing.F) {
	f.Add(embedded(f))
	f.Add("[plan]\nuniform = -1\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse([]byte(text), "fuzz.toml")
		if err != nil {
			return
		}
		if _, err := c.Spaces.Get(c.Plan.Space); err != nil {
			t.Fatalf("accepted config with plan space %q: %v", c.Plan.Space, err)
		}
		for _, d := range c.Devices {
			if err := d.Protocol().Validate(); err != nil {
				t.Fatalf("accepted device %s: %v", d.Name, err)
			}
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
