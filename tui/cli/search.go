package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"blockprof/engine/session"
	"blockprof/engine/stats"
	"blockprof/model"
	"blockprof/tui/plot"
)

// frontPoint is one arch of a front in the JSON output.
type frontPoint struct {
	Arch      string  `json:"arch"`
	LatencyMs float64 `json:"latency_ms"`
	// Exactly one of these is set, after the accuracy objective's kind.
	Accuracy *float64 `json:"accuracy,omitempty"`
	Proxy    *float64 `json:"proxy_score,omitempty"`
}

type searchSide struct {
	session.SearchSummary
	Front []frontPoint `json:"front"`
}

type searchOut struct {
	Space     string     `json:"space"`
	RedName   string     `json:"reduced_space"`
	Device    string     `json:"device"`
	Latency   string     `json:"latency_source"`
	Accuracy  string     `json:"accuracy_source"`
	Seeds     []uint64   `json:"seeds"`
	Budget    string     `json:"budget"`
	Reference [2]float64 `json:"reference_point"`
	RefNote   string     `json:"reference_point_note"`
	Original  searchSide `json:"original"`
	Reduced   searchSide `json:"reduced"`
	// LatencyReduction at equal accuracy (reduced vs original): median,
	// min and max share; null where the fronts do not overlap.
	LatencyReduction map[string]*float64 `json:"latency_reduction_at_equal_accuracy"`
	WallSeconds      float64             `json:"wall_seconds"`
}

func runSearch(env *Env, args []string) error {
	fs := newFlags(env, "search", "--space S --reduced FILE --device D [--seeds 5] [--accuracy TABLE] [--store DB] [--config F] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space (the reduced file must fit it)")
	reducedPath := fs.String("reduced", "", "reduced-space TOML (e.g. spaces/ofa-mbv3-npu.toml)")
	deviceName := fs.String("device", "", "device whose latency is the objective")
	seeds := fs.Int("seeds", 5, "number of seeds (1..N) for each space")
	accPath := fs.String("accuracy", "", "accuracy table (JSON lines like ../shared/data/*-top1.jsonl) to fit the accuracy predictor on; default: the space's configured source")
	storePath := fs.String("store", "blockprof.db", "results store with the device's measurements (for measured devices)")
	initial := fs.Int("initial", 0, "initial population (default from [search], paper: 100)")
	children := fs.Int("children", 0, "children per generation (default from [search], paper: 200)")
	gens := fs.Int("generations", 0, "generations (default from [search], paper: 10)")
	crowding := fs.Bool("crowding", false, "NSGA-II survival with crowding distance instead of the paper's first-front parents")
	asJSON := fs.Bool("json", false, "print one JSON object")
	width := fs.Int("width", 100, "plot width in the text output")
	budgetMACs := fs.Float64("budget-macs", 0, "max-accuracy mode (paper §5.2): maximise accuracy under this many MACs (e.g. 350e6); initial 20, 50 children, 4 generations, top-10 set")
	budgetMs := fs.Float64("budget-ms", 0, "max-accuracy mode under this latency on --device (ms)")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	if *spaceName == "" || *reducedPath == "" || (*deviceName == "" && *budgetMACs <= 0) {
		fs.Usage()
		return fmt.Errorf("search: --space, --reduced and --device are required (--device is optional with --budget-macs)")
	}
	if *seeds < 1 {
		return fmt.Errorf("search: --seeds %d must be ≥ 1", *seeds)
	}
	sess, err := session.Open(env.Ctx, session.Options{Config: cfg, Space: *spaceName, StorePath: *storePath, Version: env.Version})
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	defer sess.Close()
	sp := sess.Space()
	_, red, err := sess.ReadReduced(*reducedPath)
	if err != nil {
		return fmt.Errorf("search: --reduced: %w", err)
	}
	redSpace, err := red.ApplyTo(sp)
	if err != nil {
		return err
	}
	if *budgetMACs > 0 || *budgetMs > 0 {
		return maxAccuracy(env, sess, redSpace, red.Name, *deviceName, *accPath, *budgetMACs, *budgetMs, *seeds, *asJSON)
	}
	opts := sess.SearchOptions()
	opts.Crowding = opts.Crowding || *crowding
	if *initial > 0 {
		opts.Initial = *initial
	}
	if *children > 0 {
		opts.Children = *children
	}
	if *gens > 0 {
		opts.Generations = *gens
	}
	var seedList []uint64
	for i := 1; i <= *seeds; i++ {
		seedList = append(seedList, uint64(i))
	}
	t0 := time.Now()
	lastLine := time.Time{}
	res, err := sess.Search(env.Ctx, session.SearchRequest{Device: *deviceName, Reduced: redSpace, AccuracyTable: *accPath,
		Options: &opts, Seeds: seedList, Progress: func(p session.SearchProgress) {
			if time.Since(lastLine) > time.Second || p.Generation == p.Generations {
				lastLine = time.Now()
				fmt.Fprintf(env.Stderr, "search %-18s seed %d  generation %2d/%d  evaluations %5d  front %3d  hypervolume %.4g\n",
					p.Space, p.Seed, p.Generation, p.Generations, p.Evaluations, p.FrontSize, p.Hypervolume)
			}
		}})
	if err != nil {
		return err
	}
	cmp, lat, acc := res.Comparison, res.Latency, res.Accuracy
	out := searchOut{Space: sp.Name, RedName: red.Name, Device: *deviceName, Latency: lat.Label, Accuracy: acc.Label,
		Seeds: seedList, Budget: fmt.Sprintf("%d initial + %d generations × %d children per seed", res.Options.Initial, res.Options.Generations, res.Options.Children),
		Reference: [2]float64{cmp.Reference.Latency, cmp.Reference.Accuracy},
		RefNote:   "(latency ms, " + acc.Field + "): the worst latency and " + acc.Field + " over every seed's front of both spaces, pushed out by 1% of each range",
		Original:  side(cmp.Original, acc.Field), Reduced: side(cmp.Reduced, acc.Field),
		LatencyReduction: map[string]*float64{"median": nanNull(cmp.LatencyReductionMedian), "min": nanNull(cmp.LatencyReductionMin), "max": nanNull(cmp.LatencyReductionMax)},
		WallSeconds:      time.Since(t0).Seconds(),
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(env.Stdout, "search on %s (latency: %s; %s: %s)\n", sp.Name, lat.Label, acc.Field, acc.Label)
	fmt.Fprintf(env.Stdout, "budget %s, seeds %d\n", out.Budget, len(seedList))
	fmt.Fprintf(env.Stdout, "reference point: latency %.4g ms, %s %.4g %s\n", cmp.Reference.Latency, acc.Field, cmp.Reference.Accuracy, "(worst of all fronts, pushed out 1%)")
	for _, s := range []session.SearchSummary{cmp.Original, cmp.Reduced} {
		fmt.Fprintf(env.Stdout, "  %-22s hypervolume median %.5g  (min %.5g, max %.5g over %d seeds), merged front %d archs\n",
			s.Space, s.HypervolumeMedian, s.HypervolumeMin, s.HypervolumeMax, len(s.Hypervolumes), len(s.Front))
	}
	if !math.IsNaN(cmp.LatencyReductionMedian) {
		fmt.Fprintf(env.Stdout, "latency reduction at equal %s (reduced vs original): median %.1f%% (min %.1f%%, max %.1f%%)\n",
			acc.Field, 100*cmp.LatencyReductionMedian, 100*cmp.LatencyReductionMin, 100*cmp.LatencyReductionMax)
	}
	fmt.Fprintln(env.Stdout)
	fmt.Fprintln(env.Stdout, FrontPlot(cmp, acc.Field+" ["+acc.Label+"]", "latency ["+lat.Label+"]", *width, 24))
	return nil
}

// FrontPlot draws both merged fronts.
func FrontPlot(cmp session.Comparison, yLabel, xLabel string, w, h int) string {
	toXY := func(f []session.Individual) []plot.XY {
		out := make([]plot.XY, len(f))
		for i, x := range f {
			out[i] = plot.XY{X: x.Latency, Y: x.Accuracy}
		}
		return out
	}
	return plot.Render([]plot.Series{
		{Name: cmp.Original.Space + " front", Points: toXY(cmp.Original.Front), Marker: '◆', Front: true},
		{Name: cmp.Reduced.Space + " front", Points: toXY(cmp.Reduced.Front), Marker: '●', Front: true},
	}, plot.Options{Width: w, Height: h, XLabel: xLabel, XUnit: "ms", YLabel: yLabel})
}

func side(s session.SearchSummary, field string) searchSide {
	out := searchSide{SearchSummary: s}
	for _, x := range s.Front {
		v := x.Accuracy
		p := frontPoint{Arch: x.Arch.String(), LatencyMs: x.Latency}
		if field == "proxy_score" {
			p.Proxy = &v
		} else {
			p.Accuracy = &v
		}
		out.Front = append(out.Front, p)
	}
	return out
}

func nanNull(x float64) *float64 {
	if math.IsNaN(x) {
		return nil
	}
	return &x
}

// maxAccSide is one space's side of a max-accuracy comparison.
type maxAccSide struct {
	Space string    `json:"space"`
	Best  []float64 `json:"best_per_seed"`
	Mean  float64   `json:"mean"`
	Std   float64   `json:"std"`
	// Cost is the budgeted quantity of each seed's best arch.
	Cost []float64 `json:"cost_per_seed"`
	Arch []string  `json:"best_arch_per_seed"`
}

// maxAccuracy runs the paper's max-accuracy search (§5.2, Table 2) in the
// original and the reduced space for every seed.
func maxAccuracy(env *Env, sess *session.Session, red *model.Space, redName, device, accPath string, budgetMACs, budgetMs float64, seeds int, asJSON bool) error {
	res, err := sess.MaxAccuracy(env.Ctx, session.MaxAccuracyRequest{Reduced: red, BudgetMACs: budgetMACs, BudgetMs: budgetMs,
		Device: device, AccuracyTable: accPath, Seeds: seeds})
	if err != nil {
		return err
	}
	acc := res.Accuracy
	side := func(s session.MaxAccuracySide, name string) maxAccSide {
		out := maxAccSide{Space: name}
		for _, b := range s.Best {
			out.Best = append(out.Best, b.Accuracy)
			out.Cost = append(out.Cost, b.Latency)
			out.Arch = append(out.Arch, b.Arch.String())
		}
		out.Mean, out.Std = stats.Mean(out.Best), stats.Std(out.Best)
		return out
	}
	o, r := side(res.Original, res.Original.Space), side(res.Reduced, redName)
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"mode": "max-accuracy", "budget": map[string]any{res.Budget: res.Limit}, "accuracy_source": acc.Label,
			"field": acc.Field, "original": o, "reduced": r})
	}
	fmt.Fprintf(env.Stdout, "max-accuracy search (paper §5.2: initial 20, 50 children, 4 generations, top-10) under %s ≤ %g; %s: %s\n", res.Budget, res.Limit, acc.Field, acc.Label)
	for _, x := range []maxAccSide{o, r} {
		fmt.Fprintf(env.Stdout, "  %-24s best %s %.3f ± %.3f over %d seeds (mean %s of the best: %.4g)\n", x.Space, acc.Field, x.Mean, x.Std, len(x.Best), res.Budget, stats.Mean(x.Cost))
	}
	return nil
}
