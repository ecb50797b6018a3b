// Package config loads blockprof's configuration: the search spaces, the
// devices, the profiling plan and the search defaults, from one TOML file
// (the embedded default or the user's --config file).
package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"blockprof/devices"
	"blockprof/model"
)

// Plan is the [plan] table: what a profiling run measures.
type Plan struct {
	// Space to profile (default: the first space).
	Space      string `toml:"space"`
	Resolution int    `toml:"resolution"`
	// Uniform architectures (the baseline A and the regression estimator's
	// data) and A_{u,l,b} per (unit, layer, block) (the paper's Eq. 1–3).
	Uniform     int    `toml:"uniform"`
	PerLocation int    `toml:"per_location"`
	Seed        uint64 `toml:"seed"`
	// Sampler is "paper" (default) or "blockprofile" (the official code's).
	Sampler string `toml:"sampler"`
	// ReferenceEvery re-measures the reference arch every K measurements
	// per device (0 disables).
	ReferenceEvery int `toml:"reference_every"`
	// Retries of a transient failure before it counts as an error, and the
	// number of consecutive errors after which a device is marked failed.
	Retries     int `toml:"retries"`
	MaxFailures int `toml:"max_failures"`
}

// Search is the [search] table: defaults of the evolutionary search.
type Search struct {
	Initial     int     `toml:"initial"`
	Children    int     `toml:"children"`
	Generations int     `toml:"generations"`
	MutateProb  float64 `toml:"mutate_prob"`
	Crowding    bool    `toml:"crowding"`
}

// Config is the whole file.
type Config struct {
	File    string
	Spaces  *model.Spaces
	Devices []devices.Config
	Plan    Plan
	Search  Search
}

type doc struct {
	Devices []devices.Config `toml:"devices"`
	Plan    Plan             `toml:"plan"`
	Search  Search           `toml:"search"`
}

// EmbeddedName is the file name errors give the embedded default config.
const EmbeddedName = "embedded config.toml"

// Load reads the file at path, or parses embedded (named "embedded
// config.toml") when path is empty. A file without [spaces.NAME] tables
// uses the embedded spaces, so a config may hold only devices and a plan.
func Load(path string, embedded []byte) (*Config, error) {
	if path == "" {
		return Parse(embedded, EmbeddedName)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return parse(data, path, embedded)
}

// Parse decodes and validates a configuration. Errors name the file, the
// line and the key.
func Parse(data []byte, file string) (*Config, error) { return parse(data, file, nil) }

func parse(data []byte, file string, embedded []byte) (*Config, error) {
	spaces, err := model.ParseSpaces(data, file)
	if err != nil {
		return nil, err
	}
	if len(spaces.Names()) == 0 && embedded != nil {
		if spaces, err = model.ParseSpaces(embedded, EmbeddedName); err != nil {
			return nil, err
		}
	}
	if len(spaces.Names()) == 0 {
		return nil, fmt.Errorf("%s: no [spaces.NAME] tables: a config needs at least one search space", file)
	}
	var d doc
	md, err := toml.Decode(string(data), &d)
	if err != nil {
		return nil, model.TOMLError(file, data, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var keys []string
		for _, k := range und {
			if len(k) > 0 && k[0] == "spaces" {
				continue // checked by the space loader's own struct
			}
			keys = append(keys, k.String())
		}
		if len(keys) > 0 {
			line := model.LineOf(data, strings.Split(keys[0], "."))
			return nil, fmt.Errorf("%s:%d: unknown key %s (misspelt? see the commented config.toml)", file, line, keys[0])
		}
	}
	c := &Config{File: file, Spaces: spaces, Devices: d.Devices, Plan: d.Plan, Search: d.Search}
	c.defaults()
	if err := c.validate(data); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) defaults() {
	p := &c.Plan
	if p.Space == "" {
		p.Space = c.Spaces.Names()[0]
	}
	if p.Sampler == "" {
		p.Sampler = "paper"
	}
	if p.Retries == 0 {
		p.Retries = 2
	}
	if p.MaxFailures == 0 {
		p.MaxFailures = 3
	}
	s := &c.Search
	if s.Initial == 0 {
		s.Initial = 100
	}
	if s.Children == 0 {
		s.Children = 200
	}
	if s.Generations == 0 {
		s.Generations = 10
	}
	if s.MutateProb == 0 {
		s.MutateProb = 0.5
	}
}

func (c *Config) validate(data []byte) error {
	at := func(path []string, format string, args ...any) error {
		line := model.LineOf(data, path)
		return fmt.Errorf("%s:%d: %s: %s", c.File, line, strings.Join(path, "."), fmt.Sprintf(format, args...))
	}
	sp, err := c.Spaces.Get(c.Plan.Space)
	if err != nil {
		return at([]string{"plan", "space"}, "%v", err)
	}
	if c.Plan.Resolution != 0 && !slices.Contains(sp.Resolutions, c.Plan.Resolution) {
		return at([]string{"plan", "resolution"}, "%d not allowed in %s (allowed %v)", c.Plan.Resolution, sp.Name, sp.Resolutions)
	}
	if c.Plan.Uniform < 0 || c.Plan.PerLocation < 0 || c.Plan.ReferenceEvery < 0 {
		return at([]string{"plan"}, "uniform, per_location and reference_every must be ≥ 0")
	}
	if c.Plan.Sampler != "paper" && c.Plan.Sampler != "blockprofile" {
		return at([]string{"plan", "sampler"}, "%q: want \"paper\" or \"blockprofile\"", c.Plan.Sampler)
	}
	seen := map[string]bool{}
	for i, d := range c.Devices {
		path := []string{"devices", fmt.Sprint(i + 1)}
		if d.Name == "" {
			return at(append(path, "name"), "every [[devices]] entry needs a name")
		}
		if seen[d.Name] {
			return at(append(path, "name"), "device name %q is used twice", d.Name)
		}
		seen[d.Name] = true
		if !slices.Contains(devices.Kinds(), d.Kind) {
			return at(append(path, "kind"), "device %s: kind %q: want one of %s", d.Name, d.Kind, strings.Join(devices.Kinds(), ", "))
		}
		if _, err := d.MeasureTimeout(); err != nil {
			return at(append(path, "timeout"), "%v", err)
		}
		if err := d.Protocol().Validate(); err != nil {
			return at(path, "device %s: %v", d.Name, err)
		}
		if d.ProbeEvery != 0 && d.Kind != "ort" {
			return at(append(path, "probe_every"), "device %s: probe_every applies to kind ort only (this device is %s); remove it", d.Name, d.Kind)
		}
	}
	s := c.Search
	if s.Initial < 1 || s.Children < 1 || s.Generations < 0 || s.MutateProb <= 0 || s.MutateProb > 1 {
		return at([]string{"search"}, "want initial ≥ 1, children ≥ 1, generations ≥ 0, 0 < mutate_prob ≤ 1")
	}
	return nil
}

// Device returns the named device's configuration.
func (c *Config) Device(name string) (devices.Config, error) {
	var names []string
	for _, d := range c.Devices {
		if d.Name == name {
			return d, nil
		}
		names = append(names, d.Name)
	}
	return devices.Config{}, fmt.Errorf("%s: no device named %q (configured: %s)", c.File, name, strings.Join(names, ", "))
}

// PlanSpec turns the [plan] table into the model's plan spec.
func (c *Config) PlanSpec() model.PlanSpec {
	mode := model.FixPaper
	if c.Plan.Sampler == "blockprofile" {
		mode = model.FixBlockProfile
	}
	return model.PlanSpec{Uniform: c.Plan.Uniform, PerLocation: c.Plan.PerLocation, Resolution: c.Plan.Resolution, Seed: c.Plan.Seed, Mode: mode}
}

// Duration parses a Go duration field, naming it on error.
func Duration(field, v string, def time.Duration) (time.Duration, error) {
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like \"90s\"", field, v)
	}
	return d, nil
}
