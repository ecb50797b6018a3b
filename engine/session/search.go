package session

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"blockprof/engine"
	"blockprof/engine/accuracy"
	"blockprof/engine/predict"
	"blockprof/engine/search"
	"blockprof/engine/store"
	"blockprof/model"
)

// Objective is one search objective with the label shown beside its
// numbers.
type Objective struct {
	Eval func(context.Context, model.Arch) (float64, error)
	// Label says where the numbers come from: "predicted (additive fit on
	// 150 archs: measured, probe-corrected)", "simulated (sim device npu)".
	Label string
	// Field is the JSON/plot name: latency_ms, accuracy or proxy_score.
	Field string
}

// minFit is the fewest uniform archs the latency predictor is fitted on.
const minFit = 30

// LatencyObjective is the device's latency as the search sees it. A
// simulated or table device is evaluated directly (it computes, it does
// not time); a replay device's recorded file and a measured device's
// stored records (through Series, the same numbers as every view) train
// the additive predictor, labelled predicted.
func (s *Session) LatencyObjective(ctx context.Context, device string) (Objective, error) {
	dc, err := s.cfg.Device(device)
	if err != nil {
		return Objective{}, err
	}
	switch dc.Kind {
	case "sim", "lut":
		dev, _, err := s.Device(ctx, device)
		if err != nil {
			return Objective{}, err
		}
		info := dev.Info()
		if info.Provenance == "" {
			return Objective{}, fmt.Errorf("device %s reports no provenance", device)
		}
		label := fmt.Sprintf("%s (%s device %s)", orDash(info.Label), dc.Kind, device)
		return Objective{Field: "latency_ms", Label: label, Eval: func(ctx context.Context, a model.Arch) (float64, error) {
			net, err := s.sp.Network(a)
			if err != nil {
				return 0, err
			}
			m, err := dev.Measure(ctx, net)
			if err != nil {
				return 0, err
			}
			return store.Median(m.SamplesMs), nil
		}}, nil
	case "replay":
		path := s.backendOptions().Resolve(dc.File)
		f, err := os.Open(path)
		if err != nil {
			return Objective{}, fmt.Errorf("device %s: %w", device, err)
		}
		defer f.Close()
		recs, err := predict.ReadRecords(f, path, s.sp)
		if err != nil {
			return Objective{}, err
		}
		archs, y, err := predict.Latencies(recs, dc.Key)
		if err != nil {
			return Objective{}, fmt.Errorf("device %s: %w", device, err)
		}
		return s.fitLatency(archs, y, fmt.Sprintf("predicted (additive fit on %d replayed measurements, key %s of %s)", len(archs), dc.Key, filepath.Base(path)))
	}
	ser, err := s.Series(ctx, SeriesRequest{Device: device, Metric: MetricLatency})
	if err != nil {
		return Objective{}, err
	}
	var archs []model.Arch
	var y []float64
	for _, o := range ser.Obs {
		if o.Fix == nil {
			archs = append(archs, o.Arch)
			y = append(y, o.Value)
		}
	}
	if len(archs) < minFit {
		return Objective{}, fmt.Errorf("device %s: only %d uniform archs of %s in %s (the latency predictor needs %d): profile first (blockprof profile --devices %s --store %s)",
			device, len(archs), s.sp.Name, s.st.Path(), minFit, device, s.st.Path())
	}
	return s.fitLatency(archs, y, fmt.Sprintf("predicted (additive fit on %d archs of %s: %s)", len(archs), device, ser.Label))
}

func (s *Session) fitLatency(archs []model.Arch, y []float64, label string) (Objective, error) {
	m, err := predict.FitAdditive(s.sp, archs, y, predict.AdditiveOptions{})
	if err != nil {
		return Objective{}, err
	}
	// The fit's quality goes with its label: its cross-validated error.
	cv := m.CV()
	switch cv.Criterion {
	case "mape":
		label += fmt.Sprintf("; %d-fold CV error %.1f%%", cv.Folds, 100*cv.Chosen.Score)
	case "rmse":
		label += fmt.Sprintf("; %d-fold CV RMSE %.3g ms", cv.Folds, cv.Chosen.Score)
	}
	return Objective{Field: "latency_ms", Label: label, Eval: func(_ context.Context, a model.Arch) (float64, error) { return m.Predict(a), nil }}, nil
}

// AccuracyObjective is the accuracy the search maximises: a top-1
// predictor fitted on table when given, else the session's source (stored
// scores first).
func (s *Session) AccuracyObjective(ctx context.Context, table string) (Objective, error) {
	if table != "" {
		recs, err := accuracy.ReadTable(table, s.sp)
		if err != nil {
			return Objective{}, err
		}
		if n := recs.Note(); n != "" {
			s.warn(n)
		}
		src, err := accuracy.NewPredictor(recs, s.sp, predict.Top1Options{})
		if err != nil {
			return Objective{}, err
		}
		return Objective{Field: "accuracy", Label: fmt.Sprintf("predicted (top-1 predictor fitted on %d archs of %s)", recs.Len(), filepath.Base(table)),
			Eval: func(ctx context.Context, a model.Arch) (float64, error) {
				v, err := src.Top1(ctx, a)
				return v.Top1, err
			}}, nil
	}
	probe, err := s.acc.Score(ctx, s.sp.MinArch(s.spec.Resolution), false)
	if err != nil {
		return Objective{}, fmt.Errorf("accuracy source %s of %s: %w", s.acc.name, s.sp.Name, err)
	}
	o := Objective{Field: "accuracy", Label: probe.Provenance + " (" + s.acc.name + ")"}
	if probe.IsProxy() {
		o.Field = "proxy_score"
	}
	o.Eval = func(ctx context.Context, a model.Arch) (float64, error) {
		v, err := s.acc.Score(ctx, a, false)
		return v.Top1, err
	}
	return o, nil
}

// SearchRequest asks for evolutionary searches of the original and a
// reduced space with the same budget.
type SearchRequest struct {
	Device string
	// Reduced is the reduced space (nil: the session's current cuts).
	Reduced *model.Space
	// AccuracyTable fits a top-1 predictor on this table ("": the
	// session's accuracy source).
	AccuracyTable string
	// Options is the budget (zero: the config's [search]).
	Options *search.Options
	// Seeds (default 1, 2, 3).
	Seeds []uint64
	// Progress receives one report per generation of each seed of each
	// space (every subscriber of the session gets them too, as
	// engine.SearchProgress events naming By).
	Progress func(SearchProgress)
	// By is who asked (an SSH user; "" for this process).
	By string
}

// SearchProgress reports one generation of one seed of one space.
type SearchProgress = search.CompareProgress

// SearchResult is a comparison with the labels of its objectives.
type SearchResult struct {
	search.Comparison
	Latency, Accuracy Objective
	Seeds             []uint64
	Options           search.Options
	ReducedName       string
}

// Search runs search.Compare of the original and the reduced space over
// the seeds; every evaluation holds the host lock so it never overlaps a
// timed window. It returns when done or when ctx ends.
func (s *Session) Search(ctx context.Context, req SearchRequest) (SearchResult, error) {
	red := req.Reduced
	redName := ""
	if red == nil {
		r := s.Cuts().Reduction(s.sp.Name + "-reduced")
		var err error
		if red, err = r.ApplyTo(s.sp); err != nil {
			return SearchResult{}, err
		}
		redName = r.Name
	}
	if redName == "" {
		redName = red.Name
	}
	lat, err := s.LatencyObjective(ctx, req.Device)
	if err != nil {
		return SearchResult{}, err
	}
	acc, err := s.AccuracyObjective(ctx, req.AccuracyTable)
	if err != nil {
		return SearchResult{}, err
	}
	opts := s.SearchOptions()
	if req.Options != nil {
		opts = *req.Options
	}
	seeds := req.Seeds
	if len(seeds) == 0 {
		seeds = []uint64{1, 2, 3}
	}
	eval := func(a model.Arch) (l, v float64, err error) {
		err = s.exclusive(ctx, func() error {
			if l, err = lat.Eval(ctx, a); err != nil {
				return err
			}
			v, err = acc.Eval(ctx, a)
			return err
		})
		return l, v, err
	}
	progress := func(p SearchProgress) {
		s.team.Publish(engine.SearchProgress{By: req.By, Device: req.Device, Space: p.Space, Seed: p.Seed, Generation: p.Generation,
			Generations: p.Generations, Evaluations: p.Evaluations, FrontSize: p.FrontSize, Hypervolume: p.Hypervolume})
		if req.Progress != nil {
			req.Progress(p)
		}
	}
	cmp, err := search.Compare(ctx, s.sp, red, eval, opts, seeds, progress)
	end := engine.SearchProgress{By: req.By, Device: req.Device, Space: red.Name, Done: true}
	if err != nil {
		end.Err = err.Error()
	}
	s.team.Publish(end)
	if err != nil {
		return SearchResult{}, err
	}
	return SearchResult{Comparison: cmp, Latency: lat, Accuracy: acc, Seeds: seeds, Options: opts, ReducedName: redName}, nil
}

// MaxAccuracyRequest asks for the paper's max-accuracy search (§5.2)
// under a MACs or latency budget.
type MaxAccuracyRequest struct {
	Reduced *model.Space
	// BudgetMACs or BudgetMs (on Device) bounds the archs.
	BudgetMACs, BudgetMs float64
	Device               string
	AccuracyTable        string
	Seeds                int
}

// MaxAccuracySide is one space's side of a max-accuracy comparison.
type MaxAccuracySide struct {
	Space string
	Best  []search.Individual
}

// MaxAccuracyResult compares both sides.
type MaxAccuracyResult struct {
	Original, Reduced MaxAccuracySide
	Accuracy          Objective
	// Budget names the budgeted quantity and Limit its bound.
	Budget string
	Limit  float64
}

// MaxAccuracy runs search.MaxAccuracy in the original and the reduced
// space for every seed.
func (s *Session) MaxAccuracy(ctx context.Context, req MaxAccuracyRequest) (MaxAccuracyResult, error) {
	acc, err := s.AccuracyObjective(ctx, req.AccuracyTable)
	if err != nil {
		return MaxAccuracyResult{}, err
	}
	out := MaxAccuracyResult{Accuracy: acc, Budget: "MACs", Limit: req.BudgetMACs}
	cost := func(a model.Arch) float64 {
		n, err := s.sp.Network(a)
		if err != nil {
			return 0
		}
		return float64(n.MACs())
	}
	if req.BudgetMs > 0 {
		lat, err := s.LatencyObjective(ctx, req.Device)
		if err != nil {
			return out, err
		}
		cost = func(a model.Arch) float64 {
			v, err := lat.Eval(ctx, a)
			if err != nil {
				return 0
			}
			return v
		}
		out.Budget, out.Limit = "latency_ms ("+lat.Label+")", req.BudgetMs
	}
	score := func(a model.Arch) (float64, error) { return acc.Eval(ctx, a) }
	side := func(sp *model.Space) (MaxAccuracySide, error) {
		res := MaxAccuracySide{Space: sp.Name}
		for seed := 1; seed <= max(1, req.Seeds); seed++ {
			r, err := search.MaxAccuracy(ctx, sp, score, search.MaxAccOptions{Seed: uint64(seed), Cost: cost, Limit: out.Limit})
			if err != nil {
				return res, err
			}
			res.Best = append(res.Best, r.Best)
		}
		return res, nil
	}
	if out.Original, err = side(s.sp); err != nil {
		return out, err
	}
	if out.Reduced, err = side(req.Reduced); err != nil {
		return out, err
	}
	return out, nil
}

// The search's result types, for front ends that print them.
type (
	Comparison    = search.Comparison
	SearchSummary = search.Summary
	Individual    = search.Individual
	SearchOptions = search.Options
)
