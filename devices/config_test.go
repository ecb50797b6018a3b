package devices

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestConfigValidate: every number of a [[devices]] entry is checked
// against its bound; an error names the key and a negative value is never
// replaced by its default.
func TestConfigValidate(t *testing.T) {
	base := Config{Name: "d", Kind: "ort"}
	tests := []struct {
		name string
		edit func(*Config)
		key  string // "" : valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"every number at its bound", func(c *Config) {
			c.Warmup, c.Repeat, c.MaxRepeat, c.TargetSpread, c.ProbeEvery = MaxWarmup, MaxRepeat, MaxRepeat, MaxTargetSpread, MaxProbeEvery
			c.Batch, c.Threads, c.Port, c.Timeout = MaxBatch, MaxThreads, MaxPort, "24h"
		}, ""},
		{"negative repeat (audit)", func(c *Config) { c.Repeat = -5 }, "repeat"},
		{"negative max_repeat (audit)", func(c *Config) { c.MaxRepeat = -1 }, "max_repeat"},
		{"negative warmup (audit)", func(c *Config) { c.Warmup = -3 }, "warmup"},
		{"negative target_spread (audit)", func(c *Config) { c.TargetSpread = -0.5 }, "target_spread"},
		{"NaN target_spread", func(c *Config) { c.TargetSpread = math.NaN() }, "target_spread"},
		{"huge repeat", func(c *Config) { c.Repeat = 2_000_000_000 }, "repeat"},
		{"huge warmup", func(c *Config) { c.Warmup = MaxWarmup + 1 }, "warmup"},
		{"max_repeat below repeat", func(c *Config) { c.Repeat, c.MaxRepeat = 100, 10 }, "max_repeat"},
		{"max_repeat below the default repeat", func(c *Config) { c.MaxRepeat = 10 }, "max_repeat"},
		{"negative probe_every", func(c *Config) { c.ProbeEvery = -1 }, "probe_every"},
		{"negative batch", func(c *Config) { c.Batch = -1 }, "batch"},
		{"huge batch", func(c *Config) { c.Batch = 1 << 40 }, "batch"},
		{"negative threads", func(c *Config) { c.Threads = -2 }, "threads"},
		{"port", func(c *Config) { c.Port = 70000 }, "port"},
		{"zero timeout", func(c *Config) { c.Timeout = "0s" }, "timeout"},
		{"negative timeout", func(c *Config) { c.Timeout = "-5s" }, "timeout"},
		{"absurd timeout", func(c *Config) { c.Timeout = "10000h" }, "timeout"},
		{"int8", func(c *Config) { c.Precision = "int8" }, ""},
		{"tflite", func(c *Config) { c.Kind, c.Format = "command", "tflite" }, ""},
		{"precision", func(c *Config) { c.Precision = "int4" }, "precision"},
		{"format", func(c *Config) { c.Format = "pb" }, "format"},
		{"sim gmacs", func(c *Config) { c.Kind, c.Sim.GMACs = "sim", -400 }, "sim.gmacs"},
		{"sim kernel factor key", func(c *Config) { c.Kind, c.Sim.KernelFactor = "sim", map[string]float64{"x": 1} }, "sim.kernel_factor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			err := c.Validate()
			if tc.key == "" {
				if err != nil {
					t.Fatal(err)
				}
				if _, p, _, err := c.Timing(); err != nil || p.Validate() != nil {
					t.Fatalf("valid entry: Timing %v", err)
				}
				return
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tc.key {
				t.Fatalf("error %v, want a KeyError for %s", err, tc.key)
			}
			// Timing, which every timing backend opens with, refuses it too,
			// naming the device and the key.
			if _, _, _, err := c.Timing(); err == nil || !strings.HasPrefix(err.Error(), "device d: "+tc.key+": ") {
				t.Errorf("Timing: %v", err)
			}
		})
	}
}

// TestProtocolKeepsNegatives: Protocol fills defaults only for zeros, so a
// negative reaches Validate instead of turning into the default.
func TestProtocolKeepsNegatives(t *testing.T) {
	p := Config{Warmup: -3, Repeat: -5, MaxRepeat: -1, TargetSpread: -0.5}.Protocol()
	if p.Warmup != -3 || p.MinRuns != -5 || p.MaxRuns != -1 || p.TargetSpread != -0.5 {
		t.Fatalf("protocol %+v", p)
	}
	if p.Validate() == nil {
		t.Fatal("negative protocol accepted")
	}
	if err := (Protocol{MinRuns: 1, MaxRuns: 1, TargetSpread: math.NaN()}).Validate(); err == nil {
		t.Error("NaN target spread accepted")
	}
}
