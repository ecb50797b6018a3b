// Package config loads blockprof's configuration: the search spaces, the
// devices, the profiling plan and the search defaults, from one TOML file
// (the embedded default or the user's --config file).
package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"blockprof/devices"
	"blockprof/devices/safetext"
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
	if err := checkSeeds(data, file); err != nil {
		return nil, err
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

// Bounds of the [plan] and [search] numbers (docs/config-bounds.md). A 0
// means the default where the key's comment says so; a negative, NaN or
// larger value is an error naming the key.
const (
	// MaxReferenceEvery bounds plan.reference_every (0: off).
	MaxReferenceEvery = 1_000_000
	// MaxRetries bounds plan.retries (0: the default 2).
	MaxRetries = 100
	// MaxFailures bounds plan.max_failures (0: the default 3).
	MaxFailures = 1_000_000
	// MaxPopulation bounds search.initial (0: 100) and search.children
	// (0: 200).
	MaxPopulation = 100_000
	// MaxGenerations bounds search.generations (0: 10).
	MaxGenerations = 10_000
	// MaxSearchEvaluations bounds one search's evaluations:
	// initial + children × generations.
	MaxSearchEvaluations = 10_000_000
)

func (c *Config) validate(data []byte) error {
	at := func(path []string, format string, args ...any) error {
		line := model.LineOf(data, path)
		return fmt.Errorf("%s:%d: %s: %s", c.File, line, strings.Join(path, "."), fmt.Sprintf(format, args...))
	}
	bound := func(path []string, v, lo, hi int, what string) error {
		if v < lo || v > hi {
			return at(path, "%d outside %d..%d (%s)", v, lo, hi, what)
		}
		return nil
	}
	sp, err := c.Spaces.Get(c.Plan.Space)
	if err != nil {
		return at([]string{"plan", "space"}, "%v", err)
	}
	p := c.Plan
	if p.Resolution != 0 && !slices.Contains(sp.Resolutions, p.Resolution) {
		return at([]string{"plan", "resolution"}, "%d not allowed in %s (allowed %v)", p.Resolution, sp.Name, sp.Resolutions)
	}
	for _, err := range []error{
		bound([]string{"plan", "uniform"}, p.Uniform, 0, model.MaxPlanArchs, "uniform archs"),
		bound([]string{"plan", "per_location"}, p.PerLocation, 0, model.MaxPlanArchs, "archs per (unit, layer, block)"),
		bound([]string{"plan", "reference_every"}, p.ReferenceEvery, 0, MaxReferenceEvery, "measurements between reference archs; 0: off"),
		bound([]string{"plan", "retries"}, p.Retries, 0, MaxRetries, "retries of a transient failure; 0: the default 2"),
		bound([]string{"plan", "max_failures"}, p.MaxFailures, 0, MaxFailures, "consecutive errors before a device is failed; 0: the default 3"),
	} {
		if err != nil {
			return err
		}
	}
	if err := sp.CheckPlanSize(c.PlanSpec()); err != nil {
		key := "per_location"
		if p.PerLocation == 0 {
			key = "uniform"
		}
		return at([]string{"plan", key}, "%v", err)
	}
	if p.Sampler != "paper" && p.Sampler != "blockprofile" {
		return at([]string{"plan", "sampler"}, "%q: want \"paper\" or \"blockprofile\"", p.Sampler)
	}
	seen := map[string]bool{}
	for i, d := range c.Devices {
		path := []string{"devices", fmt.Sprint(i + 1)}
		if d.Name == "" {
			return at(append(path, "name"), "every [[devices]] entry needs a name")
		}
		if safetext.Line(d.Name) != d.Name {
			return at(append(path, "name"), "device name %s holds control characters; use letters, digits and punctuation", safetext.Line(d.Name))
		}
		if seen[d.Name] {
			return at(append(path, "name"), "device name %q is used twice", d.Name)
		}
		seen[d.Name] = true
		if !slices.Contains(devices.Kinds(), d.Kind) {
			return at(append(path, "kind"), "device %s: kind %q: want one of %s", d.Name, d.Kind, strings.Join(devices.Kinds(), ", "))
		}
		if err := d.Validate(); err != nil {
			var ke *devices.KeyError
			if errors.As(err, &ke) {
				return atKey(c.File, data, append(path, strings.Split(ke.Key, ".")...), "device %s: %v", d.Name, ke.Err)
			}
			return at(path, "device %s: %v", d.Name, err)
		}
		if err := d.Protocol().Validate(); err != nil {
			return at(path, "device %s: %v", d.Name, err)
		}
		if d.ProbeEvery != 0 && d.Kind != "ort" {
			return at(append(path, "probe_every"), "device %s: probe_every applies to kind ort only (this device is %s); remove it", d.Name, d.Kind)
		}
	}
	s := c.Search
	for _, err := range []error{
		bound([]string{"search", "initial"}, s.Initial, 1, MaxPopulation, "initial population; 0: the default 100"),
		bound([]string{"search", "children"}, s.Children, 1, MaxPopulation, "children per generation; 0: the default 200"),
		bound([]string{"search", "generations"}, s.Generations, 0, MaxGenerations, "generations; 0: the default 10"),
	} {
		if err != nil {
			return err
		}
	}
	if !(s.MutateProb > 0 && s.MutateProb <= 1) {
		return at([]string{"search", "mutate_prob"}, "%v outside (0, 1] (mutation probability; 0: the default 0.5)", s.MutateProb)
	}
	if n := int64(s.Initial) + int64(s.Children)*int64(s.Generations); n > MaxSearchEvaluations {
		return at([]string{"search", "generations"}, "initial %d + children %d × generations %d = %d evaluations per search; at most %d", s.Initial, s.Children, s.Generations, n, MaxSearchEvaluations)
	}
	return nil
}

// checkSeeds refuses negative seeds: the TOML decoder would wrap seed = -1
// into the uint64 18446744073709551615 without a word.
func checkSeeds(data []byte, file string) error {
	var signed struct {
		Devices []struct {
			Sim struct {
				Seed int64 `toml:"seed"`
			} `toml:"sim"`
		} `toml:"devices"`
		Plan struct {
			Seed int64 `toml:"seed"`
		} `toml:"plan"`
	}
	if _, err := toml.Decode(string(data), &signed); err != nil {
		return nil // the typed decoding already accepted the file; nothing to add
	}
	if signed.Plan.Seed < 0 {
		return atKey(file, data, []string{"plan", "seed"}, "%d: want a seed from 0 to %d", signed.Plan.Seed, int64(math.MaxInt64))
	}
	for i, d := range signed.Devices {
		if d.Sim.Seed < 0 {
			return atKey(file, data, []string{"devices", strconv.Itoa(i + 1), "sim", "seed"}, "%d: want a seed from 0 to %d", d.Sim.Seed, int64(math.MaxInt64))
		}
	}
	return nil
}

// atKey is an error at a key path that may end inside an inline table
// (devices.1.sim.gmacs in `sim = { gmacs = -1 }`): it points at the key's
// own line when the file has one, else at the inline table's line.
func atKey(file string, data []byte, path []string, format string, args ...any) error {
	line := model.LineOf(data, path)
	for n := len(path) - 1; n > 0; n-- {
		if _, err := strconv.Atoi(path[n-1]); err == nil {
			break // up to the array table's entry, not past it
		}
		line = max(line, model.LineOf(data, path[:n]))
	}
	return fmt.Errorf("%s:%d: %s: %s", file, line, strings.Join(path, "."), fmt.Sprintf(format, args...))
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
