package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/reduce"
	"blockprof/engine/session"
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
	metric := fs.String("metric", "latency", "latency, accuracy (the space's configured accuracy source, its scores stored in the store; top1 of a --data file), macs or params")
	res := fs.Int("resolution", 0, "analyse archs at this resolution (default: [plan] resolution for a store, the only one present for --data)")
	sampler := fs.String("sampler", "", "sampler that drew the A_{u,l,b}: paper or blockprofile (default: the store's runs, else paper)")
	tausFlag := fs.String("taus", "0.05,0.95", "percentiles of Eq. 3, comma-separated in [0,1]")
	level := fs.Float64("level", 0.95, "confidence level of every interval")
	boot := fs.Int("boot", 1000, "bootstrap resamples")
	seed := fs.Uint64("seed", 1, "bootstrap seed")
	asJSON := fs.Bool("json", false, "print JSON")
	asCSV := fs.Bool("csv", false, "print CSV (long format, one number per row)")
	suggest := fs.Bool("suggest", false, "also propose a reduced space for this device (needs --quality)")
	quality := fs.String("quality", "", "quality metric the suggestions trade latency against: macs, params (capacity proxies, not accuracy) or accuracy (the space's accuracy source)")
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
	opt := analysis.Options{Taus: taus, Level: *level, Boot: *boot, Seed: *seed}
	// Both sources answer through the engine's session: a store through the
	// one function every front end reads it with, a recorded file through
	// session.Recorded.
	var analyze func(metric string) (*session.Analysis, error)
	var suggestWith func(lat, q *session.Analysis) (session.Suggestion, error)
	if *dataPath != "" {
		rec, err := session.OpenRecorded(*dataPath, *key, *spaceName, cfg.Spaces)
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		if opt.Mode, err = samplerMode(*sampler, model.FixPaper); err != nil {
			return err
		}
		analyze = func(metric string) (*session.Analysis, error) { return rec.Analyze(metric, *res, opt) }
		suggestWith = func(lat, q *session.Analysis) (session.Suggestion, error) {
			return session.SuggestFrom(lat, q, fmt.Sprintf("%s-%s-suggested", rec.Space().Name, *key))
		}
	} else {
		sess, err := session.Open(env.Ctx, session.Options{Config: cfg, Space: *spaceName, SpaceFromStore: *spaceName == "",
			StorePath: *dbPath, Resolution: *res, Version: env.Version})
		if err != nil {
			return fmt.Errorf("analyze: %w", err)
		}
		defer sess.Close()
		if opt.Mode, err = samplerMode(*sampler, sess.AnalysisOptions().Mode); err != nil {
			return err
		}
		analyze = func(metric string) (*session.Analysis, error) {
			return sess.Analyze(env.Ctx, session.SeriesRequest{Device: *device, Metric: metric}, opt)
		}
		suggestWith = func(lat, q *session.Analysis) (session.Suggestion, error) {
			return sess.SuggestFromAnalyses(lat, q, *device)
		}
	}
	an, err := analyze(*metric)
	if err != nil {
		return fmt.Errorf("analyze: %w", err)
	}
	rep := an.Report
	var qan *session.Analysis
	var qrep *analysis.Report
	if *quality != "" {
		if qan, err = analyze(*quality); err != nil {
			return fmt.Errorf("analyze: quality %s: %w", *quality, err)
		}
		qrep = qan.Report
	}
	var rpl *analyzeReplication
	if *replicate != "" {
		if *dataPath == "" {
			return fmt.Errorf("analyze: --replicate needs --data")
		}
		rec2, err := session.OpenRecorded(*replicate, *key, rep.Space, cfg.Spaces)
		if err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
		an2, err := rec2.Analyze(*metric, *res, opt)
		if err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
		if rpl, err = analyzeReplicate(rep, an2.Report, *replicate); err != nil {
			return fmt.Errorf("analyze: --replicate: %w", err)
		}
	}
	var sug *session.Suggestion
	if *suggest {
		r, err := suggestWith(an, qan)
		if err != nil && !errors.Is(err, session.ErrNothingToCut) {
			return fmt.Errorf("analyze: %w", err)
		}
		sug = &r
		if *reducedOut != "" {
			if err := os.WriteFile(*reducedOut, r.Model.Marshal(), 0o644); err != nil {
				return fmt.Errorf("analyze: --reduced-out: %w", err)
			}
		}
	}
	var paperImpacts []session.PaperImpact
	if *paper != "" {
		if paperImpacts, err = session.PaperImpacts(*paper, cfg.Spaces, an, qan); err != nil {
			return fmt.Errorf("analyze: --paper: %w", err)
		}
	}
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	switch {
	case *asJSON:
		var red *reduce.Reduction
		var qev *session.Evidence
		if sug != nil {
			red = &sug.Reduction
		}
		if qan != nil {
			qev = &qan.Evidence
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Report          *analysis.Report      `json:"report"`
			Evidence        session.Evidence      `json:"evidence"`
			Quality         *analysis.Report      `json:"quality,omitempty"`
			QualityEvidence *session.Evidence     `json:"quality_evidence,omitempty"`
			Reduction       *reduce.Reduction     `json:"reduction,omitempty"`
			Paper           []session.PaperImpact `json:"paper,omitempty"`
			Replication     *analyzeReplication   `json:"replication,omitempty"`
		}{rep, an.Evidence, qrep, qev, red, paperImpacts, rpl})
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
	fmt.Fprintln(w, "\nevidence:")
	for _, l := range an.Evidence.Lines() {
		fmt.Fprintln(w, "  "+l)
	}
	if sug != nil {
		if qan != nil {
			fmt.Fprintf(w, "evidence of %s:\n", qan.Series.Metric)
			for _, l := range qan.Evidence.Lines() {
				fmt.Fprintln(w, "  "+l)
			}
		}
		fmt.Fprintf(w, "\nsuggested reduction %s (%s):\n", sug.Reduction.Name, sug.Reduction.Description)
		if sug.Weak {
			fmt.Fprintln(w, "  WARNING: made from weak evidence (see above); check before you cut")
		}
		for _, s := range sug.Reduction.Suggestions {
			fmt.Fprintf(w, "  %s\n    rule: %s\n", s.Text, s.Rule)
			for _, e := range s.Evidence {
				fmt.Fprintf(w, "    evidence: %s = %s\n", e.Statistic, e.Estimate)
			}
		}
		if len(sug.Reduction.Suggestions) == 0 {
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

// samplerMode reads --sampler ("": def).
func samplerMode(s string, def model.FixMode) (model.FixMode, error) {
	switch s {
	case "":
		return def, nil
	case "paper":
		return model.FixPaper, nil
	case "blockprofile":
		return model.FixBlockProfile, nil
	}
	return def, fmt.Errorf("analyze: --sampler %q: want paper or blockprofile", s)
}
