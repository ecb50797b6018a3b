package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/devices/safetext"
	"blockprof/engine/config"
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
		out = append(out, deviceOut{Name: d.Name, Kind: d.Kind, Profiled: d.Profiled(), Label: backends.Label(d), Settings: backends.Settings(d)})
	}
	failed := 0
	if *check {
		opts := backends.Options{Lock: devices.NewHostLock(), Dir: backends.DirOf(*cfgPath), Spaces: cfg.Spaces}
		for i, d := range cfg.Devices {
			c := checkDevice(env.Ctx, cfg, d, opts)
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

// checkDevice opens one device and runs its Check, or measures the plan
// space's smallest arch once, within the device's timeout. Failures are
// reported, not returned.
func checkDevice(ctx context.Context, cfg *config.Config, d devices.Config, opts backends.Options) deviceCheck {
	fail := func(err error) deviceCheck { return deviceCheck{Error: err.Error()} }
	timeout, err := d.MeasureTimeout()
	if err != nil {
		return fail(err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	dev, err := backends.Open(ctx, d, opts)
	if err != nil {
		return fail(err)
	}
	defer dev.Close()
	if c, ok := dev.(devices.Checker); ok {
		info, err := c.Check(ctx)
		if err != nil {
			return fail(err)
		}
		return deviceCheck{OK: true, Info: &info}
	}
	info := dev.Info()
	res := deviceCheck{Info: &info}
	sp, err := cfg.Spaces.Get(cfg.Plan.Space)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	r := cfg.Plan.Resolution
	if r == 0 {
		r = sp.Resolution
	}
	net, err := sp.Network(sp.MinArch(r))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Probe = net.Arch
	m, err := dev.Measure(ctx, net)
	if err != nil {
		res.Error = fmt.Sprintf("measuring %s: %v", net.Arch, err)
		return res
	}
	if len(m.SamplesMs) == 0 {
		res.Error = fmt.Sprintf("measuring %s: no samples", net.Arch)
		return res
	}
	res.OK, res.LatencyMs = true, median(m.SamplesMs)
	return res
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
	}
	if c.Probe != "" {
		parts = append(parts, fmt.Sprintf("%s: %.3f ms", c.Probe, c.LatencyMs))
	}
	return strings.Join(parts, "; ")
}
