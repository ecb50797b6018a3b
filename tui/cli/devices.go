package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/engine/session"
)

// deviceCheck is what `devices --check` found on one device.
type deviceCheck struct {
	OK    bool          `json:"ok"`
	Info  *devices.Info `json:"info,omitempty"`
	Probe string        `json:"probe,omitempty"` // the arch measured when the device has no Check
	// LatencyMs is the probe's median (or only) sample.
	LatencyMs float64 `json:"latency_ms,omitempty"`
	Error     string  `json:"error,omitempty"`
}

type deviceOut struct {
	Name     string       `json:"name"`
	Kind     string       `json:"kind"`
	Profiled bool         `json:"profiled"`
	Label    string       `json:"label"`
	Settings string       `json:"settings"`
	Check    *deviceCheck `json:"check,omitempty"`
}

func runDevices(env *Env, args []string) error {
	fs := newFlags(env, "devices", "[--config F] [--check] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	check := fs.Bool("check", false, "open every device and check it: its hello, or one tiny model (the plan space's smallest arch)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	out := make([]deviceOut, 0, len(cfg.Devices))
	for _, d := range cfg.Devices {
		out = append(out, deviceOut{Name: d.Name, Kind: d.Kind, Profiled: d.Profiled(), Label: session.DeviceLabel(d), Settings: session.DeviceSettings(d)})
	}
	failed := 0
	if *check {
		bench := session.NewBench(cfg, nil)
		defer bench.Close()
		for i, d := range cfg.Devices {
			c := checkResult(bench.Check(env.Ctx, d.Name))
			if c.Info != nil {
				out[i].Label = c.Info.Label
			}
			if !c.OK {
				failed++
			}
			out[i].Check = &c
			if err := env.Ctx.Err(); err != nil {
				return err
			}
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printDevices(env.Stdout, cfg.File, out, *check)
	}
	if failed > 0 {
		return fmt.Errorf("devices --check: %d of %d devices failed (see above)", failed, len(out))
	}
	return nil
}

// checkResult turns the session's check into the command's output.
func checkResult(c session.Check) deviceCheck {
	out := deviceCheck{OK: c.OK, Info: c.Info, Error: c.Error}
	if m := c.Measured; m != nil {
		out.Probe, out.LatencyMs = m.Arch.String(), median(m.SamplesMs)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func printDevices(w io.Writer, file string, out []deviceOut, checked bool) {
	if len(out) == 0 {
		fmt.Fprintf(w, "%s configures no [[devices]] (see the commented examples in config.toml)\n", file)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tPROFILED\tLABEL\tSETTINGS")
	for _, d := range out {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.Kind, yesNo(d.Profiled), safetext.Line(d.Label), safetext.Line(d.Settings))
	}
	tw.Flush()
	if !checked {
		return
	}
	fmt.Fprintln(w, "\ncheck:")
	for _, d := range out {
		c := d.Check
		if c == nil {
			continue
		}
		if !c.OK {
			fmt.Fprintf(w, "  %s: FAILED: %s\n", d.Name, safetext.Escape(c.Error))
			continue
		}
		fmt.Fprintf(w, "  %s: ok: %s\n", d.Name, safetext.Line(describeInfo(c)))
	}
}

// describeInfo writes what a check found: runtime, version, threads,
// hardware, and the probe's latency.
func describeInfo(c *deviceCheck) string {
	var parts []string
	if in := c.Info; in != nil {
		if rt := strings.TrimSpace(in.Runtime + " " + in.Version); rt != "" {
			parts = append(parts, rt)
		}
		switch {
		case in.Threads == 1:
			parts = append(parts, "1 thread")
		case in.Threads > 1:
			parts = append(parts, fmt.Sprintf("%d threads", in.Threads))
		}
		if in.Hardware != "" {
			parts = append(parts, in.Hardware)
		}
		if in.Host != "" {
			parts = append(parts, "host "+in.Host)
		}
		if in.Helper != "" {
			parts = append(parts, in.Helper)
		}
	}
	if c.Probe != "" {
		parts = append(parts, fmt.Sprintf("%s: %.3f ms", c.Probe, c.LatencyMs))
	}
	return strings.Join(parts, "; ")
}
