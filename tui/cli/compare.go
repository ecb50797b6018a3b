package cli

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/compare"
	"blockprof/engine/session"
)

func runCompare(env *Env, args []string) error {
	fs := newFlags(env, "compare", "(--store DB --devices A,B[,C] | --data FILE --keys K1,K2 | --data F1:K1,F2:K2) [--quality macs|params|accuracy] [--json|--csv]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	dbPath := fs.String("store", "", "results store (SQLite) written by profiling runs")
	devs := fs.String("devices", "", "with --store: two or more device names, comma-separated")
	dataFlag := fs.String("data", "", "recorded files in the format of ../shared/data/*.jsonl: one FILE with --keys, or FILE:KEY,FILE:KEY")
	keys := fs.String("keys", "", "with one --data FILE: two or more latency_ms keys, comma-separated")
	spaceName := fs.String("space", "", "search space (default: the one the records name)")
	quality := fs.String("quality", "", "quality metric the per-device suggestions trade latency against: macs, params (capacity proxies, not accuracy) or accuracy (the space's accuracy source); default: accuracy with --store (as the explorer and analyze --suggest), macs with --data")
	res := fs.Int("resolution", 0, "compare archs at this resolution (default: [plan] resolution for a store, the only one present for --data)")
	level := fs.Float64("level", 0.95, "confidence level of every interval")
	boot := fs.Int("boot", 1000, "bootstrap resamples")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	asJSON := fs.Bool("json", false, "print JSON")
	asCSV := fs.Bool("csv", false, "print CSV (long format, one effect of one device per row)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return fmt.Errorf("compare: pick one of --json and --csv")
	}
	if (*dbPath == "") == (*dataFlag == "") {
		return fmt.Errorf("compare: give either --store DB (with --devices) or --data (FILE with --keys, or FILE:KEY,FILE:KEY)")
	}
	if !(*level > 0 && *level < 1) {
		return fmt.Errorf("compare: --level %v must be in (0, 1)", *level)
	}
	if *boot < 2 || *boot > 100000 {
		return fmt.Errorf("compare: --boot %d must be in 2..100000", *boot)
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	opt := analysis.Options{Level: *level, Boot: *boot, Seed: *seed}
	var c *session.DeviceComparison
	if *dataFlag != "" {
		if *devs != "" {
			return fmt.Errorf("compare: --devices names store devices; with --data use --keys or FILE:KEY")
		}
		specs, err := parseDataSpecs(*dataFlag, *keys)
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		var rds []session.RecordedDevice
		space := *spaceName
		for _, s := range specs {
			rec, err := session.OpenRecorded(s.File, s.Key, space, cfg.Spaces)
			if err != nil {
				return fmt.Errorf("compare: %w", err)
			}
			rds = append(rds, session.RecordedDevice{Name: s.Name, Rec: rec})
		}
		if c, err = session.CompareRecorded(rds, *quality, *res, opt); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	} else {
		if *keys != "" {
			return fmt.Errorf("compare: --keys goes with --data; with --store name the devices with --devices")
		}
		names, err := splitList(*devs, "--devices")
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		sess, err := session.Open(env.Ctx, session.Options{Config: cfg, Space: *spaceName, SpaceFromStore: *spaceName == "",
			StorePath: *dbPath, Resolution: *res, Version: env.Version})
		if err != nil {
			return fmt.Errorf("compare: %w", err)
		}
		defer sess.Close()
		opt.Mode = sess.AnalysisOptions().Mode
		if c, err = sess.Compare(env.Ctx, session.CompareRequest{Devices: names, Quality: *quality}, opt); err != nil {
			return fmt.Errorf("compare: %w", err)
		}
	}
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	switch {
	case *asJSON:
		return writeCompareJSON(w, c)
	case *asCSV:
		return writeCompareCSV(w, c)
	}
	writeCompareText(w, c)
	return nil
}

// dataSpec is one recorded device of --data.
type dataSpec struct {
	File, Key, Name string
}

// splitList reads a comma-separated list of two or more distinct names.
func splitList(s, flag string) ([]string, error) {
	var out []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("%s %q: an empty name; want two or more names, comma-separated", flag, s)
		}
		for _, q := range out {
			if q == p {
				return nil, fmt.Errorf("%s %q: %s is named twice", flag, s, p)
			}
		}
		out = append(out, p)
	}
	if len(out) < 2 {
		return nil, fmt.Errorf("%s %q: compare needs two or more, comma-separated", flag, s)
	}
	return out, nil
}

// parseDataSpecs reads --data and --keys: one file with two or more keys,
// or FILE:KEY pairs (split at each pair's last colon). Devices are named by
// their key when they come from one file, else by the file's prefix (h100
// for h100-ofa-mbv3-w1.0.jsonl) and the key.
func parseDataSpecs(data, keys string) ([]dataSpec, error) {
	if keys != "" {
		if strings.Contains(data, ",") {
			return nil, fmt.Errorf("--data %q: with --keys give one file (or drop --keys and write FILE:KEY,FILE:KEY)", data)
		}
		ks, err := splitList(keys, "--keys")
		if err != nil {
			return nil, err
		}
		out := make([]dataSpec, len(ks))
		for i, k := range ks {
			out[i] = dataSpec{File: data, Key: k, Name: k}
		}
		return out, nil
	}
	parts, err := splitList(data, "--data")
	if err != nil {
		return nil, fmt.Errorf("%w (or one FILE with --keys K1,K2)", err)
	}
	var out []dataSpec
	files := map[string]bool{}
	for _, p := range parts {
		i := strings.LastIndex(p, ":")
		if i <= 0 || i == len(p)-1 {
			return nil, fmt.Errorf("--data %q: %q is not FILE:KEY (or give one FILE with --keys K1,K2)", data, p)
		}
		out = append(out, dataSpec{File: p[:i], Key: p[i+1:]})
		files[p[:i]] = true
	}
	names := map[string]int{}
	for i, s := range out {
		switch {
		case len(files) == 1:
			out[i].Name = s.Key
		default:
			base := filepath.Base(s.File)
			prefix, _, _ := strings.Cut(base, "-")
			out[i].Name = strings.TrimSuffix(prefix, ".jsonl") + ":" + s.Key
		}
		names[out[i].Name]++
	}
	for i, s := range out {
		if names[s.Name] > 1 {
			out[i].Name = s.File + ":" + s.Key
		}
	}
	return out, nil
}

func cmpPct(x float64) string { return fmt.Sprintf("%+.1f%%", 100*x) }

func cmpSide(s compare.Side) string {
	if s.Lo != s.Lo || s.Hi != s.Hi {
		return cmpPct(s.Rel) + " (no interval)"
	}
	return fmt.Sprintf("%s [%+.1f, %+.1f]", cmpPct(s.Rel), 100*s.Lo, 100*s.Hi)
}

func rho(x float64, n int) string {
	if x != x {
		return fmt.Sprintf("undefined (%d)", n)
	}
	return fmt.Sprintf("%.2f (%d)", x, n)
}

func mark(c compare.Cell) string {
	switch c.Verdict {
	case compare.Differ:
		return "DIFFER " + strings.Join(c.Pairs, " ")
	case compare.Agree:
		if c.SameSign {
			return "agree, same sign"
		}
		return "agree"
	}
	return c.Verdict
}

func writeCompareText(w io.Writer, c *session.DeviceComparison) {
	fmt.Fprintf(w, "compare %d devices of %s at %d px (%.0f%% intervals)\n", len(c.Devices), c.Space, c.Resolution, 100*c.Level)
	for i, d := range c.Devices {
		fmt.Fprintf(w, "  %s: %s; %d analysed of %d records; E[M(A)] %.4g %s; leave-one-out R² %.2f\n",
			d.Name, d.Label, d.Analysed, d.Records, d.Baseline.Value, d.Unit, d.Q2)
		if ev := c.Latency[i].Evidence; ev.Weak {
			fmt.Fprintf(w, "    WEAK EVIDENCE: %s: its effects cannot be trusted, so \"agree\" with it says little\n", strings.Join(ev.Why, "; "))
		}
	}
	fmt.Fprintf(w, "effects in %% of the device's own mean latency: %s\n", c.Normalisation)
	table := func(title string, cells []compare.Cell, depth bool) {
		fmt.Fprintf(w, "\n%s\n", title)
		head := fmt.Sprintf("%-5s %-6s", "unit", "block")
		if depth {
			head = fmt.Sprintf("%-5s %-6s", "unit", "depth")
		}
		for _, d := range c.Devices {
			head += fmt.Sprintf(" %-26s", d.Name)
		}
		fmt.Fprintln(w, strings.TrimRight(head+" verdict", " "))
		for _, cl := range cells {
			what := cl.Block
			if depth {
				what = strconv.Itoa(cl.Depth)
			}
			row := fmt.Sprintf("%-5d %-6s", cl.Unit, what)
			for _, s := range cl.Sides {
				row += fmt.Sprintf(" %-26s", cmpSide(s))
			}
			fmt.Fprintln(w, row+" "+mark(cl))
		}
	}
	table("per (unit, block): effect of the block at every layer of the unit", c.Blocks, false)
	table("per (unit, depth): effect of the unit's depth", c.Depths, true)
	fmt.Fprintln(w, "\nsummary:")
	for _, what := range []struct {
		name  string
		cells []compare.Cell
	}{{"block", c.Blocks}, {"depth", c.Depths}} {
		a, d, u := compare.Counts(what.cells)
		same := 0
		for _, c := range what.cells {
			if c.SameSign {
				same++
			}
		}
		fmt.Fprintf(w, "  %s effects: %d agree, %d differ beyond their intervals; %d are nonzero with one sign on every device", what.name, a, d, same)
		if u > 0 {
			fmt.Fprintf(w, ", %d without an interval", u)
		}
		fmt.Fprintln(w)
	}
	for _, p := range c.Pairs {
		fmt.Fprintf(w, "  %s vs %s: Spearman (pairs) of arch latencies %s, of block effects %s, of depth effects %s; %d effects differ\n",
			p.A, p.B, rho(p.Latency, p.Archs), rho(p.BlockEffect, p.Blocks), rho(p.DepthEffect, p.Depths), p.Differ)
		if len(p.Moves) > 0 {
			var ms []string
			for _, m := range p.Moves {
				t := fmt.Sprintf("unit %d %s %+.1f pts", m.Unit, m.Block, 100*m.Delta)
				if m.Differ {
					t += " (differ)"
				}
				ms = append(ms, t)
			}
			fmt.Fprintf(w, "    block effects that move most from %s to %s (points of each device's mean latency; + is costlier on %s): %s\n", p.A, p.B, p.B, strings.Join(ms, ", "))
		}
	}
	fmt.Fprintf(w, "\nreduced space good for every device (the per-device suggested cuts that hold on all; latency vs %s):\n", c.QualityMetric)
	writeCuts(w, c.Common.Describe())
	for i, s := range c.PerDevice {
		fmt.Fprintf(w, "reduced space for %s only", c.Devices[i].Name)
		if s.Weak {
			fmt.Fprint(w, " (WEAK evidence: check before you cut)")
		}
		fmt.Fprintln(w, ":")
		writeCuts(w, s.Cuts.Describe())
	}
}

// writeCuts prints cuts one unit a line ("unit 2: remove e3k3, max depth
// 3"), without their reasons (the JSON output keeps them).
func writeCuts(w io.Writer, lines []string) {
	var units []string
	per := map[string][]string{}
	for _, l := range lines {
		unit, rest, ok := strings.Cut(l, ": ")
		if !ok {
			continue
		}
		cut, _, _ := strings.Cut(rest, ": ")
		cut = strings.TrimSuffix(cut, " (no reason given)")
		if _, seen := per[unit]; !seen {
			units = append(units, unit)
		}
		per[unit] = append(per[unit], cut)
	}
	if len(units) == 0 {
		fmt.Fprintln(w, "  no cut")
	}
	for _, u := range units {
		fmt.Fprintf(w, "  %s: %s\n", u, strings.Join(per[u], ", "))
	}
}

func writeCompareJSON(w io.Writer, c *session.DeviceComparison) error {
	type dev struct {
		Name     string           `json:"name"`
		Cuts     []string         `json:"cuts"`
		Evidence session.Evidence `json:"evidence"`
		Weak     bool             `json:"weak"`
	}
	var per []dev
	for i, s := range c.PerDevice {
		per = append(per, dev{Name: c.Devices[i].Name, Cuts: nonNil(s.Cuts.Describe()), Evidence: c.Latency[i].Evidence, Weak: s.Weak})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*compare.Result
		QualityMetric string   `json:"suggestion_quality"`
		Common        []string `json:"common_cuts"`
		PerDevice     []dev    `json:"per_device_cuts"`
	}{c.Result, c.QualityMetric, nonNil(c.Common.Describe()), per})
}

func nonNil(xs []string) []string {
	if xs == nil {
		return []string{}
	}
	return xs
}

func writeCompareCSV(w io.Writer, c *session.DeviceComparison) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"kind", "unit", "block", "depth", "device", "provenance", "effect", "lo", "hi", "relative", "relative_lo", "relative_hi", "verdict"}); err != nil {
		return err
	}
	num := func(x float64) string {
		if x != x {
			return ""
		}
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	for _, t := range []struct {
		kind  string
		cells []compare.Cell
	}{{"block", c.Blocks}, {"depth", c.Depths}} {
		for _, cl := range t.cells {
			depth := ""
			if cl.Depth != 0 {
				depth = strconv.Itoa(cl.Depth)
			}
			for i, s := range cl.Sides {
				d := c.Devices[i]
				if err := cw.Write([]string{t.kind, strconv.Itoa(cl.Unit), cl.Block, depth, d.Name, d.Label,
					num(s.Effect.Value), num(s.Effect.Lo), num(s.Effect.Hi), num(s.Rel), num(s.Lo), num(s.Hi), cl.Verdict}); err != nil {
					return err
				}
			}
		}
	}
	cw.Flush()
	return cw.Error()
}
