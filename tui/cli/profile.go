package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/engine"
	"blockprof/engine/session"
	"blockprof/model"
)

// openDevice opens one configured device: nil for backends.Open, a fake
// in tests.
type openDevice = session.Opener

// defaultStore is the store of profile and the explorer without --store.
const defaultStore = "blockprof.db"

func runProfile(env *Env, args []string) error { return profile(env, args, nil) }

func profile(env *Env, args []string, open openDevice) error {
	fs := newFlags(env, "profile", "[--config F] [--store DB] [--plan uniform=N,fixed=M | transfer=N,prior=DEV[,DEV] | confident=W,budget=N,prior=DEV] [--devices a,b] [--space S] [--estimate] [--remeasure] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	storePath := fs.String("store", defaultStore, "results store (SQLite); a re-run resumes what it holds")
	planFlag := fs.String("plan", "", "plan sizes overriding [plan]: uniform=N (uniform archs), fixed=M (A_{u,l,b} per unit, layer and block), resolution=R, seed=K; or transfer=N,prior=DEV[,DEV] (N archs chosen by design from the prior devices' stored records; one --devices), or confident=W,budget=N,prior=DEV (measure until the widest block interval is W%)")
	devList := fs.String("devices", "", "comma-separated device names (default: every device with profile = true)")
	spaceName := fs.String("space", "", "search space (default: [plan] space)")
	estimateOnly := fs.Bool("estimate", false, "print the estimated duration and stop (it times the smallest and largest arch, which stay stored)")
	remeasure := fs.Bool("remeasure", false, "measure every plan arch again, even those the store holds")
	asJSON := fs.Bool("json", false, "print the summary as JSON on stdout")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	if session.IsTransferPlan(*planFlag) {
		return profileTransfer(env, cfg, transferArgs{plan: *planFlag, devices: *devList, space: *spaceName, store: *storePath, json: *asJSON}, open)
	}
	spec := cfg.PlanSpec()
	if spec, err = ParsePlan(*planFlag, spec); err != nil {
		return err
	}
	var devs []string
	seen := map[string]bool{}
	for _, n := range strings.Split(*devList, ",") {
		if n = strings.TrimSpace(n); n != "" && !seen[n] {
			seen[n] = true
			devs = append(devs, n)
		}
	}
	ctx := env.Ctx
	// Device output (errors, warnings) is escaped before it reaches the
	// user's terminal.
	warn := func(w string) { fmt.Fprintln(env.Stderr, "profile: warning:", safetext.Escape(w)) }
	sess, err := session.Open(ctx, session.Options{Config: cfg, Space: *spaceName, StorePath: *storePath, Resolution: spec.Resolution,
		Version: env.Version, Open: open, Warn: warn})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer sess.Close()
	sp := sess.Space()
	prep, err := sess.Prepare(ctx, session.ProfileRequest{Devices: devs, Spec: &spec, Remeasure: *remeasure})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	run, spec := prep.Run, prep.Spec
	var failed []string
	for _, f := range prep.Skipped {
		failed = append(failed, safetext.Line(f))
	}
	fmt.Fprintf(env.Stderr, "profile: run %d: %s at %d px, %d archs (uniform %d, A_{u,l,b} %d per location) on %s; store %s\n",
		run.ID(), sp.Name, spec.Resolution, prep.Plan, spec.Uniform, spec.PerLocation, strings.Join(run.Devices(), ", "), sess.Store().Path())
	untimed := map[string]string{}   // device → why it has no overhead
	precision := map[string]string{} // device → the precision it times (ort, command, agent)
	for _, name := range run.Devices() {
		d, _, err := sess.Device(ctx, name)
		if err != nil {
			return err
		}
		if info := d.Info(); info.Precision != "" && info.Provenance == devices.Measured {
			precision[name] = info.Precision
		}
		if why := noWindow(d.Info()); why != "" {
			untimed[name] = why
		}
		if _, own := d.(devices.Planner); own {
			if p, ok := run.ProgressOf(name); ok {
				fmt.Fprintf(env.Stderr, "profile: %s measures the %d archs it holds instead (%s)\n", name, p.Total, d.Info().Label)
			}
		}
	}

	est, err := run.Estimate(ctx)
	if err != nil && ctx.Err() == nil {
		return err
	}
	printEstimate(env.Stderr, est)
	if *estimateOnly || ctx.Err() != nil {
		if ctx.Err() != nil {
			return errors.New("profile: interrupted while estimating; what was measured is stored")
		}
		return nil
	}

	// The subscription outlives Ctrl-C: the run ends on its own then, and
	// its last events (cancelled states, RunDone) close the channel.
	sub := run.Subscribe(context.WithoutCancel(ctx))
	if err := run.Start(ctx); err != nil {
		return err
	}
	sum := follow(env.Stderr, run, sub)
	helperNotes(env, sess, run.Devices())

	if *asJSON {
		if err := writeSummaryJSON(env.Stdout, sum, untimed, precision); err != nil {
			return err
		}
	} else {
		writeSummary(env.Stdout, sum, untimed, precision)
	}
	for _, d := range sum.Devices {
		if d.Failed {
			failed = append(failed, fmt.Sprintf("%s (%s)", d.Device, safetext.Line(d.LastErr)))
		}
	}
	if env.Ctx.Err() != nil {
		return errors.New("profile interrupted: every finished measurement is stored; run the same command again to resume")
	}
	if len(failed) > 0 {
		return fmt.Errorf("profile: device failed: %s", strings.Join(failed, "; "))
	}
	return nil
}

// ParsePlan applies a --plan value ("uniform=200,fixed=5", also
// per_location=, resolution=, seed=) to base.
func ParsePlan(s string, base model.PlanSpec) (model.PlanSpec, error) {
	p := base
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return base, fmt.Errorf("--plan %q: %q is not key=value (e.g. uniform=200,fixed=5)", s, part)
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if k == "seed" {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return base, fmt.Errorf("--plan %q: seed %q is not a non-negative integer", s, v)
			}
			p.Seed = n
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 10_000_000 {
			return base, fmt.Errorf("--plan %q: %s=%q: want a whole number from 0 to 10000000", s, k, v)
		}
		switch k {
		case "uniform":
			p.Uniform = n
		case "fixed", "per_location", "per-location":
			p.PerLocation = n
		case "resolution":
			p.Resolution = n
		default:
			return base, fmt.Errorf("--plan %q: unknown key %q (want uniform, fixed, resolution or seed)", s, k)
		}
	}
	return p, nil
}

func printEstimate(w io.Writer, est engine.PlanEstimate) {
	for _, e := range est.Devices {
		if e.Err != nil {
			fmt.Fprintf(w, "profile: %s: no estimate: %s\n", e.Device, safetext.Escape(e.Err.Error()))
			continue
		}
		if e.Pending == 0 {
			fmt.Fprintf(w, "profile: %s: nothing left to measure\n", e.Device)
			continue
		}
		fmt.Fprintf(w, "profile: %s: %d archs left (+%d reference), ≈ %s per arch, ≈ %s in all (%s)\n",
			e.Device, e.Pending, e.References, shortDur(e.PerArch), shortDur(e.Total), e.Basis)
	}
	if len(est.Devices) > 1 {
		fmt.Fprintf(w, "profile: estimated duration ≈ %s (local devices take turns, the others run alongside)\n", shortDur(est.Total))
	}
}

// follow prints one line per second per active device, the device errors
// as they come, and returns the final summary.
func follow(w io.Writer, run *engine.Run, sub <-chan engine.Event) engine.Summary {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	latest := map[string]engine.Progress{}
	order := run.Devices()
	for {
		select {
		case e, ok := <-sub:
			if !ok {
				return run.Wait()
			}
			switch e := e.(type) {
			case engine.Progress:
				prev, seen := latest[e.Device]
				latest[e.Device] = e
				if e.State.Final() && (!seen || prev.State != e.State) {
					fmt.Fprintln(w, progressLine(e))
				}
			case engine.DeviceError:
				what := "giving up on this arch"
				if !e.Final {
					what = "retrying"
				}
				fmt.Fprintf(w, "%s: attempt %d at %s: %s (%s)\n", e.Device, e.Attempt, e.Arch, safetext.Escape(e.Err.Error()), what)
			case engine.RunDone:
				return e.Summary
			}
		case <-tick.C:
			for _, d := range order {
				if p, ok := latest[d]; ok && !p.State.Final() {
					fmt.Fprintln(w, progressLine(p))
				}
			}
		}
	}
}

// progressLine is one device's status, e.g.
// "cpu  37/120  31%  2.10 arch/s  ETA 40s  last 12.34 ms ±3.1%  drift +0.8%  measuring".
func progressLine(p engine.Progress) string {
	var sb strings.Builder
	pct := 0.0
	if p.Total > 0 {
		pct = 100 * float64(p.Done) / float64(p.Total)
	}
	fmt.Fprintf(&sb, "%s  %d/%d  %3.0f%%", p.Device, p.Done, p.Total, pct)
	if p.Rate > 0 {
		fmt.Fprintf(&sb, "  %.2f arch/s", p.Rate)
	}
	if p.ETA > 0 {
		fmt.Fprintf(&sb, "  ETA %s", shortDur(p.ETA))
	}
	if p.LastMs > 0 {
		fmt.Fprintf(&sb, "  last %.3g ms ±%.1f%%", p.LastMs, 100*p.LastSpread)
	}
	if p.DriftKnown {
		fmt.Fprintf(&sb, "  drift %+.1f%%", 100*p.Drift)
	}
	if p.Errors > 0 {
		fmt.Fprintf(&sb, "  %d errors", p.Errors)
	}
	if iw := p.Interval; iw != nil {
		fmt.Fprintf(&sb, "  intervals max %.1f%% mean %.1f%% (target %.1f%%, %d measured)", iw.Max, iw.Mean, iw.Target, iw.Measured)
	}
	sb.WriteString("  " + string(p.State))
	if p.State == engine.StateFailed && p.LastErr != "" {
		sb.WriteString(": " + safetext.Line(p.LastErr))
	}
	return sb.String()
}

// noWindow says why a device's overhead (wall / timed − 1) means nothing:
// its samples are not runs timed in a window here. "" for a device that
// times (ort here, the agent on its machine).
func noWindow(info devices.Info) string {
	switch info.Kind {
	case "ort", "agent":
		return ""
	case "command":
		return "command device: the tool times its own runs, no timed window here"
	case "replay":
		return "replay device: recorded numbers, no timed window"
	case "lut":
		return "table device: summed from lookup tables, no timed window"
	case "sim":
		return "sim device: computed by a model, no timed window"
	}
	if info.Provenance == "" || info.Provenance == devices.Measured {
		return ""
	}
	return fmt.Sprintf("%s device: no timed window", info.Provenance)
}

// writeSummary prints one row per device; untimed maps the devices
// without a timed window to the reason, printed below the table in place
// of their timed time and overhead; precision maps a device to the model
// precision it times, printed beside its median.
func writeSummary(w io.Writer, s engine.Summary, untimed, precision map[string]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "device\tstate\tmeasured\tresumed\terrors\tmedian\twall\ttimed\toverhead\tdrift")
	for _, d := range s.Devices {
		drift := "-"
		if d.DriftKnown {
			drift = fmt.Sprintf("%+.1f%%", 100*d.Drift)
		}
		median := "-"
		if d.MedianMs > 0 {
			median = fmt.Sprintf("%.3g ms", d.MedianMs)
			if p := precision[d.Device]; p != "" {
				median += " " + p
			}
		}
		timed, overhead := shortDur(d.Timed), "-"
		if d.Timed > 0 {
			overhead = fmt.Sprintf("%.0f%%", 100*d.Overhead)
		}
		if _, ok := untimed[d.Device]; ok {
			timed, overhead = "-", "n/a"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d/%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\n", d.Device, d.State, d.Resumed+d.Measured, d.Total, d.Resumed,
			d.Errors, median, shortDur(d.Wall), timed, overhead, drift)
	}
	tw.Flush()
	for _, d := range s.Devices {
		if why, ok := untimed[d.Device]; ok {
			fmt.Fprintf(w, "%s: overhead n/a (%s)\n", d.Device, why)
		} else if d.Timed > 0 && (d.Prepare > 0 || d.Probe > 0) {
			fmt.Fprintf(w, "%s: overhead %s\n", d.Device, overheadParts(d))
		}
	}
}

// overheadParts splits a device's overhead (wall / timed − 1) into what it
// spent preparing networks, timing the probe, and the rest (warm-up runs,
// the store, the engine), each as a share of the timed time.
func overheadParts(d engine.DeviceSummary) string {
	timed := d.Timed.Seconds()
	prepare, probe := d.Prepare.Seconds()/timed, d.Probe.Seconds()/timed
	return fmt.Sprintf("%.0f%% = preparing networks %.0f%% + probe runs %.0f%% + warm-up, store and engine %.0f%%",
		100*d.Overhead, 100*prepare, 100*probe, 100*(d.Overhead-prepare-probe))
}

func writeSummaryJSON(w io.Writer, s engine.Summary, untimed, precision map[string]string) error {
	type dev struct {
		Device     string   `json:"device"`
		State      string   `json:"state"`
		Total      int      `json:"total"`
		Resumed    int      `json:"resumed"`
		Measured   int      `json:"measured"`
		Errors     int      `json:"errors"`
		References int      `json:"references"`
		MedianMs   float64  `json:"median_of_medians_ms"`
		Precision  string   `json:"precision,omitempty"`
		WallS      float64  `json:"wall_s"`
		TimedS     *float64 `json:"timed_s"`
		InDeviceS  float64  `json:"in_device_s"`
		PrepareS   *float64 `json:"prepare_s,omitempty"`
		ProbeS     *float64 `json:"probe_s,omitempty"`
		Overhead   *float64 `json:"overhead"`
		NoWindow   string   `json:"overhead_na,omitempty"`
		Drift      *float64 `json:"drift,omitempty"`
		LastErr    string   `json:"last_error,omitempty"`
	}
	out := struct {
		Run     int64   `json:"run"`
		WallS   float64 `json:"wall_s"`
		Dropped uint64  `json:"dropped_events"`
		Devices []dev   `json:"devices"`
	}{Run: s.Run, WallS: s.Wall.Seconds(), Dropped: s.Dropped}
	for _, d := range s.Devices {
		o := dev{Device: d.Device, State: string(d.State), Total: d.Total, Resumed: d.Resumed, Measured: d.Measured, Errors: d.Errors,
			References: d.References, MedianMs: d.MedianMs, Precision: precision[d.Device], WallS: d.Wall.Seconds(), InDeviceS: d.InDevice.Seconds(), LastErr: d.LastErr}
		if why, ok := untimed[d.Device]; ok {
			o.NoWindow = why
		} else {
			timed, overhead := d.Timed.Seconds(), d.Overhead
			o.TimedS, o.Overhead = &timed, &overhead
			if d.Prepare > 0 || d.Probe > 0 {
				prepare, probe := d.Prepare.Seconds(), d.Probe.Seconds()
				o.PrepareS, o.ProbeS = &prepare, &probe
			}
		}
		if d.DriftKnown {
			drift := d.Drift
			o.Drift = &drift
		}
		out.Devices = append(out.Devices, o)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// shortDur prints a duration to about three significant figures.
func shortDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	default:
		return d.Round(time.Minute).String()
	}
}
