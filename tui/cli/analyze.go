package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/reduce"
	"blockprof/engine/store"
	"blockprof/model"
)

func runAnalyze(env *Env, args []string) error {
	fs := newFlags(env, "analyze", "(--store DB --device D | --data FILE --key KEY) [--space S] [--metric latency|accuracy|macs|params] [--json|--csv] [--suggest --quality macs|params|accuracy] [--paper NAME,...]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	dbPath := fs.String("store", "", "results store (SQLite) written by profiling runs")
	device := fs.String("device", "", "device name in the store (needed for --metric latency)")
	dataPath := fs.String("data", "", "a recorded file in the format of ../shared/data/*.jsonl, instead of --store")
	key := fs.String("key", "", "with --data: the latency_ms key (device) to analyse")
	spaceName := fs.String("space", "", "search space (default: the one the records name)")
	metric := fs.String("metric", "latency", "latency, accuracy (the store's accuracies; top1 of a --data file), macs or params")
	source := fs.String("source", "", "accuracy source in the store (default: the only one)")
	res := fs.Int("resolution", 0, "analyse archs at this resolution (default: the only one present)")
	sampler := fs.String("sampler", "", "sampler that drew the A_{u,l,b}: paper or blockprofile (default: the store's runs, else paper)")
	tausFlag := fs.String("taus", "0.05,0.95", "percentiles of Eq. 3, comma-separated in [0,1]")
	level := fs.Float64("level", 0.95, "confidence level of every interval")
	boot := fs.Int("boot", 1000, "bootstrap resamples")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	asJSON := fs.Bool("json", false, "print JSON")
	asCSV := fs.Bool("csv", false, "print CSV (long format, one number per row)")
	suggest := fs.Bool("suggest", false, "also propose a reduced space for this device (needs --quality)")
	quality := fs.String("quality", "", "quality metric the suggestions trade latency against: macs, params (capacity proxies, not accuracy) or accuracy (the store's)")
	paper := fs.String("paper", "", "evaluate the paper's reduced spaces on this device: comma-separated names (OFA-NPU, OFA-GPU, ...) or all")
	reducedOut := fs.String("reduced-out", "", "with --suggest: write the suggested reduced space as TOML to this file")
	replicate := fs.String("replicate", "", "with --data: a second recorded file of the same archs on another machine; compares the two fits' effects")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *asJSON && *asCSV {
		return fmt.Errorf("analyze: pick one of --json and --csv")
	}
	if (*dbPath == "") == (*dataPath == "") {
		return fmt.Errorf("analyze: give either --store DB (with --device) or --data FILE (with --key)")
	}
	taus, err := analyzeTaus(*tausFlag)
	if err != nil {
		return err
	}
	if !(*level > 0 && *level < 1) {
		return fmt.Errorf("analyze: --level %v must be in (0, 1)", *level)
	}
	if *boot < 2 {
		return fmt.Errorf("analyze: --boot %d must be ≥ 2", *boot)
	}
	if *suggest && *quality == "" {
		return fmt.Errorf("analyze: --suggest needs --quality (macs, params or accuracy): a faster block may be a worse one")
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	var in analyzeInput
	if *dataPath != "" {
		in, err = analyzeDataInput(*dataPath, *key, *spaceName, cfg.Spaces)
	} else {
		in, err = analyzeStoreInput(env.Ctx, *dbPath, *device, *spaceName, *source, cfg.Spaces)
	}
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	mode := in.mode
	switch *sampler {
	case "":
	case "paper":
		mode = model.FixPaper
	case "blockprofile":
		mode = model.FixBlockProfile
	default:
		return fmt.Errorf("analyze: --sampler %q: want paper or blockprofile", *sampler)
	}
	opt := analysis.Options{Taus: taus, Level: *level, Boot: *boot, Seed: *seed, Mode: mode}
	series := func(metric string) (analysis.Series, error) {
		s, err := in.series(metric, *res)
		if err != nil {
			return s, fmt.Errorf("analyze: %w", err)
		}
		return s, nil
	}
	ms, err := series(*metric)
	if err != nil {
		return err
	}
	rep, err := analysis.Analyze(ms, opt)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	var qrep *analysis.Report
	if *quality != "" {
		qs, err := series(*quality)
		if err != nil {
			return err
		}
		if qrep, err = analysis.Analyze(qs, opt); err != nil {
			return fmt.Errorf("analyze: quality %s: %w", *quality, err)
		}
	}
	var rpl *analyzeReplication
	if *replicate != "" {
		if *dataPath == "" {
			return fmt.Errorf("analyze: --replicate needs --data")
		}
		in2, err := analyzeDataInput(*replicate, *key, ms.Space.Name, cfg.Spaces)
		if err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
		s2, err := in2.series(*metric, *res)
		if err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
		rep2, err := analysis.Analyze(s2, opt)
		if err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
		if rpl, err = analyzeReplicate(rep, rep2, *replicate); err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
	}
	var sug *reduce.Reduction
	if *suggest {
		r, err := reduce.Suggest(rep, qrep, reduce.Options{})
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		sug = &r
		if *reducedOut != "" {
			if err := os.WriteFile(*reducedOut, r.Model().Marshal(), 0o644); err != nil {
				return fmt.Errorf("analyze: --reduced-out: %w", err)
			}
		}
	}
	var paperImpacts []analyzePaperImpact
	if *paper != "" {
		names := strings.Split(*paper, ",")
		if *paper == "all" {
			names = nil
			for _, p := range reduce.PaperRules {
				if sp, _ := cfg.Spaces.Get(p.Parent); sp != nil && sp.Compatible(ms.Space) && sp.Family == ms.Space.Family {
					names = append(names, p.Name)
				}
			}
		}
		for _, n := range names {
			r, err := reduce.Paper(strings.TrimSpace(n), ms.Space)
			if err != nil {
				return fmt.Errorf("analyze: --paper: %w", err)
			}
			im, err := reduce.Evaluate(r, rep, qrep)
			if err != nil {
				return fmt.Errorf("analyze: --paper %s: %w", n, err)
			}
			paperImpacts = append(paperImpacts, analyzePaperImpact{Name: r.Name, Rules: analyzePaperRules(r.Name), Impact: im})
		}
	}
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	switch {
	case *asJSON:
		if sug == nil && qrep == nil && paperImpacts == nil && rpl == nil {
			return rep.WriteJSON(w)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Report      *analysis.Report     `json:"report"`
			Quality     *analysis.Report     `json:"quality,omitempty"`
			Reduction   *reduce.Reduction    `json:"reduction,omitempty"`
			Paper       []analyzePaperImpact `json:"paper,omitempty"`
			Replication *analyzeReplication  `json:"replication,omitempty"`
		}{rep, qrep, sug, paperImpacts, rpl})
	case *asCSV:
		if err := rep.WriteCSV(w, true); err != nil {
			return err
		}
		if qrep != nil {
			return qrep.WriteCSV(w, false)
		}
		return nil
	}
	if err := rep.WriteText(w); err != nil {
		return err
	}
	if sug != nil {
		fmt.Fprintf(w, "\nsuggested reduction %s (%s):\n", sug.Name, sug.Description)
		for _, s := range sug.Suggestions {
			fmt.Fprintf(w, "  %s\n    rule: %s\n", s.Text, s.Rule)
			for _, e := range s.Evidence {
				fmt.Fprintf(w, "    evidence: %s = %s\n", e.Statistic, e.Estimate)
			}
		}
		if len(sug.Suggestions) == 0 {
			fmt.Fprintln(w, "  nothing is dominated at these tolerances")
		}
	}
	if r := rpl; r != nil {
		fmt.Fprintf(w, "\nreplication on %s (%d uniform archs, leave-one-out R²=%.3f): Spearman of the %d per-(unit, block) effects %.2f, of the %d per-(unit, depth) effects %.2f\n",
			r.File, r.Uniform, r.Q2, r.BlockN, r.BlockSpearman, r.DepthN, r.DepthSpearman)
	}
	for _, p := range paperImpacts {
		fmt.Fprintf(w, "\npaper space %s (%s): mean latency %s", p.Name, p.Rules, p.Impact.Latency)
		if q := p.Impact.Quality; q != nil {
			fmt.Fprintf(w, ", mean %s %s", p.Impact.QualityLabel, q)
		}
		fmt.Fprintln(w)
	}
	return nil
}

type analyzePaperImpact struct {
	Name   string        `json:"name"`
	Rules  string        `json:"rules"`
	Impact reduce.Impact `json:"impact"`
}

// analyzeReplication compares two fits of the same metric on two machines.
type analyzeReplication struct {
	File          string  `json:"file"`
	Uniform       int     `json:"uniform"`
	Q2            float64 `json:"q2"`
	BlockN        int     `json:"block_effects"`
	BlockSpearman float64 `json:"-"`
	DepthN        int     `json:"depth_effects"`
	DepthSpearman float64 `json:"-"`
	// BlockRho and DepthRho are the Spearman correlations for JSON (null
	// when undefined: too few effects or a constant side).
	BlockRho *float64 `json:"block_spearman"`
	DepthRho *float64 `json:"depth_spearman"`
}

// finite returns &x, or nil for NaN and ±Inf (JSON has no NaN).
func finite(x float64) *float64 {
	if x != x || x > 1e308 || x < -1e308 {
		return nil
	}
	return &x
}

func analyzeReplicate(a, b *analysis.Report, file string) (*analyzeReplication, error) {
	if a.Regression == nil || b.Regression == nil {
		return nil, fmt.Errorf("both files need the regression estimator (%s)", strings.Join(append(a.Notes, b.Notes...), "; "))
	}
	r := &analyzeReplication{File: file, Uniform: b.Regression.N, Q2: b.Regression.Q2}
	pair := func(x, y []analysis.Effect) (int, float64) {
		idx := map[[2]any]float64{}
		for _, e := range y {
			idx[[2]any{e.Unit, e.Block + strconv.Itoa(e.Depth)}] = e.Value
		}
		var u, v []float64
		for _, e := range x {
			if w, ok := idx[[2]any{e.Unit, e.Block + strconv.Itoa(e.Depth)}]; ok {
				u, v = append(u, e.Value), append(v, w)
			}
		}
		return len(u), analysis.Spearman(u, v)
	}
	r.BlockN, r.BlockSpearman = pair(a.Regression.BlockEffects, b.Regression.BlockEffects)
	r.DepthN, r.DepthSpearman = pair(a.Regression.DepthEffects, b.Regression.DepthEffects)
	r.BlockRho, r.DepthRho = finite(r.BlockSpearman), finite(r.DepthSpearman)
	return r, nil
}

func analyzePaperRules(name string) string {
	for _, p := range reduce.PaperRules {
		if p.Name == name {
			return p.Rules
		}
	}
	return ""
}

func analyzeTaus(s string) ([]float64, error) {
	var out []float64
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 1 {
			return nil, fmt.Errorf("--taus %q: want comma-separated percentiles in [0,1], e.g. 0.05,0.95", s)
		}
		out = append(out, v)
	}
	return out, nil
}

// analyzeInput turns one source (a store or a recorded file) into series.
type analyzeInput struct {
	space  *model.Space
	mode   model.FixMode
	series func(metric string, resolution int) (analysis.Series, error)
}

// analyzeResolution keeps the observations at resolution r, or at the only
// resolution present when r is 0.
func analyzeResolution(obs []analysis.Obs, r int) ([]analysis.Obs, error) {
	var rs []int
	for _, o := range obs {
		if !slices.Contains(rs, o.Arch.Resolution) {
			rs = append(rs, o.Arch.Resolution)
		}
	}
	sort.Ints(rs)
	if r == 0 {
		if len(rs) > 1 {
			return nil, fmt.Errorf("archs at resolutions %s: pick one with --resolution", joinInts(rs))
		}
		return obs, nil
	}
	out := slices.DeleteFunc(slices.Clone(obs), func(o analysis.Obs) bool { return o.Arch.Resolution != r })
	if len(out) == 0 {
		return nil, fmt.Errorf("no archs at resolution %d (present: %s)", r, joinInts(rs))
	}
	return out, nil
}

// analyzeDataInput reads a recorded file. Its label says the numbers were
// measured elsewhere; a sibling PREFIX-meta.json (h100-meta.json beside
// h100-*.jsonl) names the machine.
func analyzeDataInput(path, key, spaceName string, spaces *model.Spaces) (analyzeInput, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return analyzeInput{}, err
	}
	if spaceName == "" {
		var first struct {
			Space string `json:"space"`
		}
		line, _, _ := bytes.Cut(bytes.TrimSpace(data), []byte("\n"))
		if json.Unmarshal(line, &first) != nil || first.Space == "" {
			return analyzeInput{}, fmt.Errorf("%s: its records name no space: pass --space (one of %s)", path, strings.Join(spaces.Names(), ", "))
		}
		spaceName = first.Space
	}
	sp, err := spaces.Get(spaceName)
	if err != nil {
		return analyzeInput{}, err
	}
	label := "replayed: measured on another machine, read from " + filepath.Base(path)
	base := filepath.Base(path)
	if prefix, _, ok := strings.Cut(base, "-"); ok {
		if meta, err := os.ReadFile(filepath.Join(filepath.Dir(path), prefix+"-meta.json")); err == nil {
			var m struct {
				GPU string `json:"gpu"`
				CPU string `json:"cpu"`
			}
			if json.Unmarshal(meta, &m) == nil && m.GPU != "" {
				label = fmt.Sprintf("replayed: measured on %s (host CPU %s), read from %s", m.GPU, m.CPU, base)
			}
		}
	}
	in := analyzeInput{space: sp}
	in.series = func(metric string, r int) (analysis.Series, error) {
		s := analysis.Series{Space: sp, Metric: metric}
		m := metric
		switch metric {
		case "latency":
			if key == "" {
				return s, fmt.Errorf("--data with --metric latency needs --key (a latency_ms key)")
			}
			s.Device, s.Unit, s.Label = key, "ms", label
		case "accuracy", "top1":
			m, s.Metric, s.Unit, s.Label = analysis.RecordedTop1, "accuracy", "%", "table: "+base
		case "macs", "params":
			s.Unit, s.Label = "M", "computed from the network"
		default:
			return s, fmt.Errorf("--metric %q: want latency, accuracy, macs or params", metric)
		}
		obs, err := analysis.ReadRecorded(bytes.NewReader(data), path, sp, m, key)
		if err != nil {
			return s, err
		}
		s.Obs, err = analyzeResolution(obs, r)
		return s, err
	}
	return in, nil
}

// analyzeStoreInput reads a results store. Latency is each plan measurement's
// median (the newest per arch); accuracy comes from the store's accuracy
// table; MACs and params from the plans' archs.
func analyzeStoreInput(ctx context.Context, path, device, spaceName, source string, spaces *model.Spaces) (analyzeInput, error) {
	st, err := store.Open(ctx, path)
	if err != nil {
		return analyzeInput{}, err
	}
	defer st.Close()
	runs, err := st.Runs(ctx)
	if err != nil {
		return analyzeInput{}, err
	}
	// Plan roles of every arch, and the space the runs profiled.
	roles := map[string][]string{}
	seen := map[[2]string]bool{}
	var runSpaces []string
	modes := map[model.FixMode]bool{}
	for _, r := range runs {
		if spaceName != "" && r.Space != spaceName {
			continue
		}
		if !slices.Contains(runSpaces, r.Space) {
			runSpaces = append(runSpaces, r.Space)
		}
		modes[r.PlanSpec.Mode] = true
		plan, err := st.Plan(ctx, r.ID)
		if err != nil {
			return analyzeInput{}, err
		}
		for _, it := range plan {
			k := [2]string{it.Arch.Canonical, it.Fix}
			if seen[k] {
				continue
			}
			seen[k] = true
			roles[it.Arch.Canonical] = append(roles[it.Arch.Canonical], it.Fix)
		}
	}
	if spaceName == "" {
		switch len(runSpaces) {
		case 0:
			return analyzeInput{}, fmt.Errorf("store %s has no profiling runs", path)
		case 1:
			spaceName = runSpaces[0]
		default:
			return analyzeInput{}, fmt.Errorf("store %s holds runs of spaces %s: pick one with --space", path, strings.Join(runSpaces, ", "))
		}
	}
	sp, err := spaces.Get(spaceName)
	if err != nil {
		return analyzeInput{}, err
	}
	in := analyzeInput{space: sp}
	if len(modes) == 1 && modes[model.FixBlockProfile] {
		in.mode = model.FixBlockProfile
	}
	parseObs := func(canonical, fix string, v float64) (analysis.Obs, error) {
		a, err := sp.ParseArch(canonical)
		if err != nil {
			return analysis.Obs{}, fmt.Errorf("store %s: %w", path, err)
		}
		o := analysis.Obs{Arch: a, Value: v}
		if fix != "" {
			f, err := ParseFixString(fix)
			if err != nil {
				return analysis.Obs{}, fmt.Errorf("store %s: arch %s: %w", path, canonical, err)
			}
			o.Fix = &f
		}
		return o, nil
	}
	// Read everything now: the store closes when analyzeStoreInput returns.
	var latObs []analysis.Obs
	var latLabel string
	if device != "" {
		devs, err := st.Devices(ctx)
		if err != nil {
			return analyzeInput{}, err
		}
		var names []string
		for _, d := range devs {
			names = append(names, d.Name)
			if d.Name == device {
				latLabel = d.Info.Label
				if latLabel == "" {
					latLabel = string(d.Info.Provenance)
				}
			}
		}
		if !slices.Contains(names, device) {
			return analyzeInput{}, fmt.Errorf("store %s has no device %q (devices: %s)", path, device, strings.Join(names, ", "))
		}
		recs, err := st.Query(ctx, store.Query{Device: device, Space: spaceName, Kind: store.KindPlan, Latest: true})
		if err != nil {
			return analyzeInput{}, err
		}
		baseline, err := st.ProbeBaseline(ctx, device)
		if err != nil {
			return analyzeInput{}, err
		}
		if baseline > 0 {
			latLabel += fmt.Sprintf(", probe-corrected to %.3g ms probe", baseline)
		}
		for _, r := range recs {
			o, err := parseObs(r.Arch, r.Fix, r.Latency(baseline))
			if err != nil {
				return analyzeInput{}, err
			}
			latObs = append(latObs, o)
		}
	}
	var accObs []analysis.Obs
	var accLabels []string
	accs, err := st.Accuracies(ctx, spaceName, source)
	if err != nil {
		return analyzeInput{}, err
	}
	var sources []string
	for _, a := range accs {
		if !slices.Contains(sources, a.Source) {
			sources = append(sources, a.Source)
		}
	}
	accErr := error(nil)
	if len(sources) > 1 {
		accErr = fmt.Errorf("store %s has accuracies from %s: pick one with --source", path, strings.Join(sources, ", "))
	} else if len(accs) == 0 {
		accErr = fmt.Errorf("store %s has no accuracies of %s%s", path, spaceName, map[bool]string{true: " from " + source}[source != ""])
	}
	for _, a := range accs {
		for _, fix := range roles[a.Arch.Canonical] {
			o, err := parseObs(a.Arch.Canonical, fix, a.Top1)
			if err != nil {
				return analyzeInput{}, err
			}
			accObs = append(accObs, o)
		}
		if !slices.Contains(accLabels, a.Label) {
			accLabels = append(accLabels, a.Label)
		}
	}
	var planObs []analysis.Obs
	for canonical, fixes := range roles {
		for _, fix := range fixes {
			o, err := parseObs(canonical, fix, 0)
			if err != nil {
				return analyzeInput{}, err
			}
			planObs = append(planObs, o)
		}
	}
	sort.SliceStable(planObs, func(i, j int) bool { return planObs[i].Arch.String() < planObs[j].Arch.String() })
	in.series = func(metric string, r int) (analysis.Series, error) {
		s := analysis.Series{Space: sp, Metric: metric}
		var obs []analysis.Obs
		switch metric {
		case "latency":
			if device == "" {
				return s, fmt.Errorf("--metric latency needs --device")
			}
			obs = latObs
			if len(obs) == 0 {
				return s, fmt.Errorf("store %s has no plan measurements of %s on %s", path, spaceName, device)
			}
			s.Device, s.Unit, s.Label = device, "ms", latLabel
		case "accuracy":
			if accErr != nil {
				return s, accErr
			}
			obs, s.Unit, s.Label = accObs, "%", strings.Join(accLabels, "+")
			if len(obs) == 0 {
				return s, fmt.Errorf("store %s: no accuracy of an arch of a %s plan", path, spaceName)
			}
		case "macs", "params":
			f, unit, err := analysis.NetworkMetric(sp, metric)
			if err != nil {
				return s, err
			}
			for _, o := range planObs {
				if o.Value, err = f(o.Arch); err != nil {
					return s, err
				}
				obs = append(obs, o)
			}
			s.Unit, s.Label = unit, "computed from the network"
		default:
			return s, fmt.Errorf("--metric %q: want latency, accuracy, macs or params", metric)
		}
		var err error
		s.Obs, err = analyzeResolution(obs, r)
		return s, err
	}
	return in, nil
}

// ParseFixString reads model.Fix.String(): "u2.l3=e6k7" (1-based unit and
// layer).
func ParseFixString(s string) (model.Fix, error) {
	loc, blk, ok := strings.Cut(s, "=")
	us, ls, ok2 := strings.Cut(loc, ".")
	if !ok || !ok2 || !strings.HasPrefix(us, "u") || !strings.HasPrefix(ls, "l") {
		return model.Fix{}, fmt.Errorf("fix %q: want u<unit>.l<layer>=<block>, e.g. u2.l3=e6k7", s)
	}
	u, err1 := strconv.Atoi(us[1:])
	l, err2 := strconv.Atoi(ls[1:])
	if err1 != nil || err2 != nil || u < 1 || l < 1 {
		return model.Fix{}, fmt.Errorf("fix %q: unit and layer must be positive numbers", s)
	}
	b, err := model.ParseBlock(blk)
	if err != nil {
		return model.Fix{}, fmt.Errorf("fix %q: %w", s, err)
	}
	return model.Fix{Unit: u, Layer: l, Block: b}, nil
}
