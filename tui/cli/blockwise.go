package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/session"
	"blockprof/engine/stats"
	"blockprof/model"
)

// blockwiseOut is the JSON of `blockwise`: the paper's M_b (Eq. 1) per
// block key and the mean of the uniform archs, plus how they were made.
type blockwiseOut struct {
	Baseline float64            `json:"baseline"`
	Blocks   map[string]float64 `json:"blocks"`
	// CI holds each M_b's bootstrap interval, [lo, hi].
	CI          map[string][2]float64 `json:"ci"`
	BaselineCI  [2]float64            `json:"baseline_ci"`
	Space       string                `json:"space"`
	Device      string                `json:"device,omitempty"`
	Metric      string                `json:"metric"`
	Unit        string                `json:"unit"`
	Label       string                `json:"label"`
	Resolution  int                   `json:"resolution"`
	Sampler     string                `json:"sampler"`
	Uniform     int                   `json:"uniform"`
	PerLocation int                   `json:"per_location"`
	Seed        uint64                `json:"seed"`
	// Inactive counts the A_{u,l,b} whose fixed block is not in the arch
	// (the BlockProfile sampler shortens the unit below the fixed layer).
	Inactive int `json:"inactive"`
	Archs    int `json:"archs"`
	// Reference compares M_b with --reference (nil without).
	Reference *blockwiseCompare `json:"reference,omitempty"`
}

// blockwiseCompare compares M_b with reference values of the same blocks
// (a paper figure row, another run).
type blockwiseCompare struct {
	File string `json:"file"`
	// Blocks is how many blocks both have; MeanDiff is mean(ours −
	// reference), MaxAbsDiff the largest |ours − reference|, Inside how many
	// reference values lie in our intervals.
	Blocks     int      `json:"blocks"`
	MeanDiff   float64  `json:"mean_diff"`
	MaxAbsDiff float64  `json:"max_abs_diff"`
	Inside     int      `json:"inside_ci"`
	Pearson    float64  `json:"-"`
	Spearman   float64  `json:"-"`
	PearsonJ   *float64 `json:"pearson"`
	SpearmanJ  *float64 `json:"spearman"`
	// Spread is max − min of M_b over the shared blocks, ours and the
	// reference's.
	Spread    float64 `json:"spread"`
	RefSpread float64 `json:"ref_spread"`
}

// parseBlockwiseReference reads {"blocks": {"e6k7": 43.41, …}} (the shape
// of `blockwise --json`; other fields are ignored).
func parseBlockwiseReference(data []byte, file string, sp *model.Space) (map[string]float64, error) {
	var doc struct {
		Blocks map[string]float64 `json:"blocks"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: want {\"blocks\": {\"e6k7\": 43.41, ...}}: %v", file, err)
	}
	if len(doc.Blocks) == 0 {
		return nil, fmt.Errorf("%s: no \"blocks\"", file)
	}
	out := map[string]float64{}
	for k, v := range doc.Blocks {
		b, err := model.ParseBlock(k)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if !slices.Contains(sp.BlockChoices(), b) {
			return nil, fmt.Errorf("%s: block %s is not a choice of %s", file, b.Key(), sp.Name)
		}
		if v != v || v > 1e300 || v < -1e300 {
			return nil, fmt.Errorf("%s: block %s: value is not finite", file, k)
		}
		out[b.Key()] = v
	}
	return out, nil
}

func compareBlockwise(out blockwiseOut, ref map[string]float64, file string) *blockwiseCompare {
	c := &blockwiseCompare{File: file}
	var ours, theirs []float64
	for k, v := range ref {
		o, ok := out.Blocks[k]
		if !ok {
			continue
		}
		ours, theirs = append(ours, o), append(theirs, v)
		d := o - v
		c.MeanDiff += d
		c.MaxAbsDiff = max(c.MaxAbsDiff, abs(d))
		if ci := out.CI[k]; ci[0] <= v && v <= ci[1] {
			c.Inside++
		}
	}
	c.Blocks = len(ours)
	if c.Blocks == 0 {
		return c
	}
	c.MeanDiff /= float64(c.Blocks)
	c.Pearson, c.Spearman = stats.Pearson(ours, theirs), stats.Spearman(ours, theirs)
	c.PearsonJ, c.SpearmanJ = finite(c.Pearson), finite(c.Spearman)
	c.Spread = slices.Max(ours) - slices.Min(ours)
	c.RefSpread = slices.Max(theirs) - slices.Min(theirs)
	return c
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func runBlockwise(env *Env, args []string) error {
	fs := newFlags(env, "blockwise", "--space S --device D [--resolution R] [--per-location N] [--uniform N] [--seed K] [--compat blockprofile] [--metric latency|macs|params] [--json] [--config F]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space (see `blockprof spaces`)")
	device := fs.String("device", "", "device name from the config's [[devices]] (needed for --metric latency)")
	res := fs.Int("resolution", 0, "input resolution (default: the space's)")
	perLoc := fs.Int("per-location", 100, "A_{u,l,b} per (unit, layer, block): the paper's code uses 100")
	uniform := fs.Int("uniform", -1, "uniform archs for the baseline E[M(A)] (default: --per-location)")
	seed := fs.Uint64("seed", 1, "plan seed (same seed, same archs)")
	compat := fs.String("compat", "", "\"blockprofile\": the official code's sampler (the fixed block is inactive in some samples)")
	metric := fs.String("metric", "latency", "latency (on --device), macs or params (from the network, no device)")
	boot := fs.Int("boot", 1000, "bootstrap resamples for the intervals")
	asJSON := fs.Bool("json", false, "print JSON: {\"baseline\": …, \"blocks\": {\"e6k7\": M_b, …}, …}")
	refPath := fs.String("reference", "", "compare M_b with a JSON file {\"blocks\": {\"e6k7\": …}} (a paper figure row, another run's --json)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, sp, err := loadSpace(env, "blockwise", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	r := *res
	if r == 0 {
		r = sp.Resolution
	}
	if !slices.Contains(sp.Resolutions, r) {
		return fmt.Errorf("blockwise: --resolution %d: %s allows %s", r, sp.Name, joinInts(sp.Resolutions))
	}
	if *perLoc < 1 {
		return fmt.Errorf("blockwise: --per-location %d must be ≥ 1", *perLoc)
	}
	if *uniform < 0 {
		*uniform = *perLoc
	}
	if *uniform < 2 {
		return fmt.Errorf("blockwise: --uniform %d must be ≥ 2 (the baseline E[M(A)])", *uniform)
	}
	var ref map[string]float64
	if *refPath != "" {
		data, err := os.ReadFile(*refPath)
		if err != nil {
			return fmt.Errorf("blockwise: --reference: %w", err)
		}
		if ref, err = parseBlockwiseReference(data, *refPath, sp); err != nil {
			return fmt.Errorf("blockwise: --reference %w", err)
		}
	}
	mode := model.FixPaper
	switch *compat {
	case "":
	case "blockprofile":
		mode = model.FixBlockProfile
	default:
		return fmt.Errorf("blockwise: --compat %q: the only value is blockprofile", *compat)
	}
	out := blockwiseOut{Space: sp.Name, Metric: *metric, Resolution: r, Sampler: blockwiseSampler(mode),
		Uniform: *uniform, PerLocation: *perLoc, Seed: *seed}
	var value func(model.Arch) (float64, error)
	switch *metric {
	case "latency":
		if *device == "" {
			var names []string
			for _, d := range cfg.Devices {
				names = append(names, d.Name)
			}
			return fmt.Errorf("blockwise: --metric latency needs --device (configured: %s)", strings.Join(names, ", "))
		}
		dc, err := cfg.Device(*device)
		if err != nil {
			return fmt.Errorf("blockwise: --device: %w", err)
		}
		bench := session.NewBench(cfg, nil)
		defer bench.Close()
		dev, _, err := bench.Device(env.Ctx, dc.Name)
		if err != nil {
			return fmt.Errorf("blockwise: %w", err)
		}
		info := dev.Info()
		out.Device, out.Unit, out.Label = dev.Name(), "ms", info.Label
		if out.Label == "" {
			out.Label = string(info.Provenance)
		}
		value = func(a model.Arch) (float64, error) {
			m, err := bench.Measure(env.Ctx, dc.Name, sp, a)
			if err != nil {
				return 0, err
			}
			return stats.Median(m.SamplesMs), nil
		}
	case "macs", "params":
		value, out.Unit, err = analysis.NetworkMetric(sp, *metric)
		if err != nil {
			return err
		}
		out.Label = "computed from the network"
	default:
		return fmt.Errorf("blockwise: --metric %q: want latency, macs or params", *metric)
	}
	items, err := sp.Plan(model.PlanSpec{Uniform: *uniform, PerLocation: *perLoc, Resolution: r, Seed: *seed, Mode: mode})
	if err != nil {
		return fmt.Errorf("blockwise: %w", err)
	}
	obs := make([]analysis.Obs, 0, len(items))
	for i, it := range items {
		if err := env.Ctx.Err(); err != nil {
			return err
		}
		v, err := value(it.Arch)
		if err != nil {
			return fmt.Errorf("blockwise: arch %d of %d: %w", i+1, len(items), err)
		}
		if it.Fix != nil && !it.Fix.Active(it.Arch) {
			out.Inactive++
		}
		obs = append(obs, analysis.Obs{Arch: it.Arch, Fix: it.Fix, Value: v})
	}
	out.Archs = len(obs)
	prof, err := analysis.ProfileOf(sp, obs, analysis.Options{Boot: *boot, Seed: *seed, Mode: mode, Taus: []float64{0.5}})
	if err != nil {
		return fmt.Errorf("blockwise: %w", err)
	}
	out.Baseline = prof.Baseline.Value
	out.BaselineCI = [2]float64{prof.Baseline.Lo, prof.Baseline.Hi}
	out.Blocks = map[string]float64{}
	out.CI = map[string][2]float64{}
	for _, b := range prof.Blocks {
		if b.Eq1 != nil {
			out.Blocks[b.Key] = b.Eq1.Value
			out.CI[b.Key] = [2]float64{b.Eq1.Lo, b.Eq1.Hi}
		}
	}
	if ref != nil {
		out.Reference = compareBlockwise(out, ref, *refPath)
	}
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	if *asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	who := out.Metric
	if out.Device != "" {
		who = out.Device + " " + who
	}
	fmt.Fprintf(w, "%s M_b (Eq. 1), %s at R%d [%s] (%s); sampler %s; %d uniform + %d per location = %d archs (%d fixed blocks inactive)\n",
		sp.Name, who, r, out.Unit, out.Label, out.Sampler, out.Uniform, out.PerLocation, out.Archs, out.Inactive)
	fmt.Fprintf(w, "baseline E[M(A)] = %s\n\n", prof.Baseline)
	m := analysis.NewMatrix(sp, "M_b", func(b model.Block) (analysis.Estimate, bool) {
		for _, br := range prof.Blocks {
			if br.Block == b && br.Eq1 != nil {
				return *br.Eq1, true
			}
		}
		return analysis.Estimate{}, false
	})
	if err := m.Render(w, 4); err != nil {
		return err
	}
	if c := out.Reference; c != nil {
		fmt.Fprintf(w, "\nagainst %s (%d blocks): mean(ours − reference) %+.3f, max |ours − reference| %.3f, reference inside our %g%% intervals %d/%d, Pearson %.3f, Spearman %.3f, spread %.3f (reference %.3f)\n",
			c.File, c.Blocks, c.MeanDiff, c.MaxAbsDiff, 95.0, c.Inside, c.Blocks, c.Pearson, c.Spearman, c.Spread, c.RefSpread)
	}
	return nil
}

func blockwiseSampler(m model.FixMode) string {
	if m == model.FixBlockProfile {
		return "blockprofile"
	}
	return "paper"
}
