package session

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"blockprof/engine"
	"blockprof/engine/predict"
	"blockprof/engine/store"
	"blockprof/model"
)

// Bounds of a transfer plan.
const (
	// MaxTransferArchs bounds transfer=N and budget=N.
	MaxTransferArchs = 10_000
	// DefaultTransferPool is how many uniform archs the design chooses from.
	DefaultTransferPool = 1000
	// MaxTransferPool bounds pool=P.
	MaxTransferPool = 20_000
)

// TransferPlan is a --plan that learns a new device from few measurements:
//
//	transfer=N,prior=DEV[,DEV…][,pool=P][,seed=K]
//	confident=W,budget=N,prior=DEV[,DEV…][,step=S][,pool=P][,seed=K]
//
// transfer measures the N archs the design picks given the prior devices'
// stored records; confident measures S archs at a time (default 1), each
// round the ones that most narrow the friendliness table's intervals, until
// the widest 95% interval of a block effect is at most W percent or N archs
// are measured.
type TransferPlan struct {
	N      int
	Priors []string
	// Width is confident's target (the widest block interval, in percent);
	// 0 for a plain transfer plan.
	Width float64
	Step  int
	Pool  int
	Seed  uint64
}

// IsTransferPlan says whether a --plan value asks for a transfer or
// confident plan (it holds transfer= or confident=).
func IsTransferPlan(s string) bool {
	for _, part := range strings.Split(s, ",") {
		k, _, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k = strings.TrimSpace(k); k == "transfer" || k == "confident" {
			return true
		}
	}
	return false
}

// ParseTransferPlan reads a transfer or confident --plan value (see
// TransferPlan). After prior=, items without '=' name further prior
// devices.
func ParseTransferPlan(s string) (TransferPlan, error) {
	p := TransferPlan{Pool: DefaultTransferPool, Step: 1}
	bad := func(format string, a ...any) (TransferPlan, error) {
		return TransferPlan{}, fmt.Errorf("--plan %q: %s", s, fmt.Sprintf(format, a...))
	}
	inPriors := false
	haveN, haveBudget := false, false
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			if !inPriors {
				return bad("%q is not key=value (e.g. transfer=20,prior=h100)", part)
			}
			p.Priors = append(p.Priors, part)
			continue
		}
		inPriors = false
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		whole := func(lo, hi int) (int, error) {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				return 0, fmt.Errorf("--plan %q: %s=%q: want a whole number from %d to %d", s, k, v, lo, hi)
			}
			return n, nil
		}
		var err error
		switch k {
		case "transfer":
			p.N, err = whole(3, MaxTransferArchs)
			haveN = true
		case "budget":
			p.N, err = whole(3, MaxTransferArchs)
			haveBudget = true
		case "confident":
			w, perr := strconv.ParseFloat(v, 64)
			if perr != nil || !(w > 0 && w <= 1000) {
				return bad("confident=%q: want the target width of the block intervals in percent, above 0 and at most 1000 (e.g. confident=5)", v)
			}
			p.Width = w
		case "prior":
			if v == "" {
				return bad("prior= names no device")
			}
			p.Priors = append(p.Priors, v)
			inPriors = true
		case "step":
			p.Step, err = whole(1, 1000)
		case "pool":
			p.Pool, err = whole(10, MaxTransferPool)
		case "seed":
			n, perr := strconv.ParseUint(v, 10, 64)
			if perr != nil {
				return bad("seed %q is not a non-negative integer", v)
			}
			p.Seed = n
		default:
			return bad("unknown key %q (a transfer plan takes transfer, confident, budget, prior, step, pool and seed)", k)
		}
		if err != nil {
			return TransferPlan{}, err
		}
	}
	switch {
	case p.Width == 0 && !haveN:
		return bad("no transfer=N (how many archs of the new device to measure, e.g. transfer=20)")
	case p.Width > 0 && haveN:
		return bad("transfer=N and confident=W exclude each other (confident stops at budget=N)")
	case p.Width > 0 && !haveBudget:
		return bad("confident=W needs budget=N (the most archs to measure)")
	case p.Width == 0 && haveBudget:
		return bad("budget=N is for confident=W; a transfer plan measures transfer=N")
	case len(p.Priors) == 0:
		return bad("no prior=DEV (the devices, already profiled in this store, the new one starts from)")
	case p.N > p.Pool:
		return bad("%d archs asked from a pool of %d (raise pool=)", p.N, p.Pool)
	}
	seen := map[string]bool{}
	for _, d := range p.Priors {
		if seen[d] {
			return bad("prior device %s is named twice", d)
		}
		seen[d] = true
	}
	if len(p.Priors) > predict.MaxPriors {
		return bad("more than %d prior devices", predict.MaxPriors)
	}
	return p, nil
}

// The MACs pseudo prior (prior=macs) is fitted on this many uniform archs
// drawn with this seed.
const (
	macsPriorArchs = 300
	macsPriorSeed  = 0x6d616373 // "macs"
)

// TransferPriors fits the prior devices' additive models on their stored
// latency records (through Series, at the session's resolution); the name
// "macs" is the MACs pseudo prior (predict.MACsPrior) instead of a device.
func (s *Session) TransferPriors(ctx context.Context, names []string) ([]predict.TransferPrior, error) {
	var out []predict.TransferPrior
	for _, name := range names {
		if name == predict.MACsPriorName {
			spec := s.spec
			spec.Uniform, spec.PerLocation, spec.Seed = macsPriorArchs, 0, macsPriorSeed
			plan, err := s.sp.Plan(spec)
			if err != nil {
				return nil, err
			}
			archs := make([]model.Arch, len(plan))
			for i, it := range plan {
				archs[i] = it.Arch
			}
			p, err := predict.MACsPrior(s.sp, archs)
			if err != nil {
				return nil, err
			}
			out = append(out, p)
			continue
		}
		ser, err := s.Series(ctx, SeriesRequest{Device: name, Metric: MetricLatency})
		if err != nil {
			if ser.Records == 0 {
				if other := s.otherSpaces(ctx, name); len(other) > 0 {
					return nil, fmt.Errorf("prior device %s was measured in space %s, not in %s: a prior must be of the new device's space (pass --space %s, or profile %s in %s first)",
						name, strings.Join(other, ", "), s.sp.Name, other[0], name, s.sp.Name)
				}
			}
			return nil, fmt.Errorf("prior device %s: %w", name, err)
		}
		archs, y := make([]model.Arch, len(ser.Obs)), make([]float64, len(ser.Obs))
		for i, o := range ser.Obs {
			archs[i], y[i] = o.Arch, o.Value
		}
		p, err := predict.FitTransferPrior(s.sp, name, archs, y)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// measuredArchs are the device's stored plan archs and latencies (none
// when the store holds no record of it yet).
func (s *Session) measuredArchs(ctx context.Context, device string) ([]model.Arch, []float64, error) {
	ser, err := s.Series(ctx, SeriesRequest{Device: device, Metric: MetricLatency})
	if err != nil {
		if len(ser.Obs) == 0 && ser.Records == 0 {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	archs, y := make([]model.Arch, len(ser.Obs)), make([]float64, len(ser.Obs))
	for i, o := range ser.Obs {
		archs[i], y[i] = o.Arch, o.Value
	}
	return archs, y, nil
}

// PrepareTransfer prepares a run that measures, on the one new device,
// n archs chosen by the transfer design from tp.Pool uniform archs given
// the prior devices' stored records and the archs the store already holds
// of the new device. Like Prepare, it returns the run unstarted.
func (s *Session) PrepareTransfer(ctx context.Context, device string, tp TransferPlan, n int, priors []predict.TransferPrior, design predict.TransferDesignOptions) (Prepared, error) {
	s.mu.Lock()
	run := s.run
	s.mu.Unlock()
	if run != nil {
		select {
		case <-run.Done():
		default:
			return Prepared{}, ErrRunActive
		}
	}
	if slices.Contains(tp.Priors, device) {
		return Prepared{}, fmt.Errorf("device %s is both the new device and a prior: a transfer learns a device from others", device)
	}
	measured, _, err := s.measuredArchs(ctx, device)
	if err != nil {
		return Prepared{}, err
	}
	spec := s.spec
	spec.Uniform, spec.PerLocation, spec.Seed = tp.Pool, 0, tp.Seed
	pool, err := s.sp.Plan(spec)
	if err != nil {
		return Prepared{}, err
	}
	have := map[string]bool{}
	for _, a := range measured {
		have[a.String()] = true
	}
	var cands []model.Arch
	for _, it := range pool {
		if !have[it.Arch.String()] {
			cands = append(cands, it.Arch)
		}
	}
	n = min(n, len(cands))
	if n == 0 {
		return Prepared{}, fmt.Errorf("every arch of the %d-arch pool is measured on %s already (raise pool=)", tp.Pool, device)
	}
	idx, err := predict.ChooseTransferArchs(s.sp, priors, measured, cands, n, design)
	if err != nil {
		return Prepared{}, err
	}
	plan := make([]model.PlanItem, len(idx))
	for i, j := range idx {
		plan[i] = model.PlanItem{Arch: cands[j]}
	}
	dev, dc, err := s.Device(ctx, device)
	if err != nil {
		return Prepared{}, err
	}
	opts := engine.OptionsFromPlan(s.cfg.Plan)
	spec.Uniform = len(plan)
	next, err := engine.Prepare(ctx, engine.Spec{Space: s.sp, Plan: plan, PlanSpec: spec, ConfigFile: s.cfg.File,
		Version: s.opts.Version, Targets: []engine.Target{{Device: dev, Config: dc}}, Store: s.st, Options: opts})
	if err != nil {
		return Prepared{}, err
	}
	for _, w := range next.Warnings() {
		s.warn(w)
	}
	s.plans.reset()
	s.attach(next)
	return Prepared{Run: next, Spec: spec, Plan: len(plan)}, nil
}

// TransferTable is a new device's friendliness table predicted by the
// transfer model from its stored measurements and the prior devices': per
// (unit, block) and (unit, depth) effects with 95% intervals. Effects are
// relative: Rel −0.05 is 5% faster than the unit's average block.
type TransferTable struct {
	Device   string
	Priors   []string
	Measured int
	// Label is the values' provenance, e.g. "predicted (transfer from
	// h100, 20 measured)".
	Label string
	// Blocks and Depths are in log units (exp(Rel)−1 is the relative
	// change); Lo and Hi their 95% interval bounds.
	Blocks []TransferEffect
	Depths []TransferEffect
	Scales []predict.Effect
	// Sigma is the residual standard deviation in log units; Lambda and
	// LambdaS the shrinkage the fit chose (the next design's prior).
	Sigma, Lambda, LambdaS float64
	// MaxWidth and MeanWidth are the widths of the blocks' 95% intervals,
	// in percent (of the relative change).
	MaxWidth, MeanWidth float64
}

// TransferEffect is one row of a TransferTable.
type TransferEffect struct {
	Unit  int
	Block string // "" for a depth row
	Depth int    // 0 for a block row
	Rel   float64
	Lo    float64
	Hi    float64
	// N is the training layers (blocks) or archs (depths) behind it.
	N int
}

// Transfer fits the transfer model of device on its stored records and
// the priors, and returns its friendliness table.
func (s *Session) Transfer(ctx context.Context, device string, priors []predict.TransferPrior) (TransferTable, error) {
	archs, y, err := s.measuredArchs(ctx, device)
	if err != nil {
		return TransferTable{}, err
	}
	if len(archs) == 0 {
		return TransferTable{}, fmt.Errorf("device %s has no measurements of %s in store %s yet", device, s.sp.Name, s.st.Path())
	}
	m, err := predict.FitTransfer(s.sp, priors, archs, y, predict.TransferOptions{})
	if err != nil {
		return TransferTable{}, fmt.Errorf("device %s: %w", device, err)
	}
	return transferTable(device, m), nil
}

func transferTable(device string, m *predict.Transfer) TransferTable {
	e := m.Effects()
	q := m.TQuantile(0.95)
	t := TransferTable{Device: device, Priors: m.PriorNames(), Measured: m.N(), Label: m.Label(), Scales: m.Scales(), Sigma: m.Sigma(),
		Lambda: m.Lambda(), LambdaS: m.LambdaS()}
	sum := 0.0
	for _, b := range e.Blocks {
		r := TransferEffect{Unit: b.Unit, Block: b.Key, Rel: b.Rel, Lo: b.Rel - q*b.RelSE, Hi: b.Rel + q*b.RelSE, N: b.Layers}
		t.Blocks = append(t.Blocks, r)
		w := 100 * (math.Exp(r.Hi) - math.Exp(r.Lo))
		sum += w
		t.MaxWidth = max(t.MaxWidth, w)
	}
	if len(t.Blocks) > 0 {
		t.MeanWidth = sum / float64(len(t.Blocks))
	}
	for _, d := range e.Depths {
		t.Depths = append(t.Depths, TransferEffect{Unit: d.Unit, Depth: d.Depth, Rel: d.Effect, Lo: d.Effect - q*d.SE, Hi: d.Effect + q*d.SE, N: d.Archs})
	}
	return t
}

// MinConfidentArchs is the fewest measurements a confident plan stops at:
// with fewer, the shrinkage is chosen by the same handful of points and
// the intervals it implies are not to be trusted.
const MinConfidentArchs = 10

// ConfidentStep is one round of a profile-until-confident plan (tp.Width
// > 0) on device: it fits the transfer model on what the store holds of
// the device (once it holds 3 archs) and, unless the widest block interval
// is at most tp.Width percent (and at least MinConfidentArchs archs are
// measured) or tp.N archs are measured (done), prepares
// a run of the next tp.Step archs the design picks given that fit (the
// first round measures at least 3). The run, unstarted, carries the
// table's interval widths in its Progress. table is nil before the first
// fit.
func (s *Session) ConfidentStep(ctx context.Context, device string, tp TransferPlan, priors []predict.TransferPrior) (prep Prepared, table *TransferTable, done bool, err error) {
	if tp.Width <= 0 {
		return Prepared{}, nil, false, errors.New("not a confident=W plan")
	}
	archs, _, err := s.measuredArchs(ctx, device)
	if err != nil {
		return Prepared{}, nil, false, err
	}
	m := len(archs)
	design := predict.TransferDesignOptions{}
	k := max(tp.Step, 3-m)
	if m >= 3 {
		t, err := s.Transfer(ctx, device, priors)
		if err != nil {
			return Prepared{}, nil, false, err
		}
		table = &t
		if (m >= MinConfidentArchs && t.MaxWidth <= tp.Width) || m >= tp.N {
			return Prepared{}, table, true, nil
		}
		design = predict.TransferDesignOptions{Lambda: t.Lambda, LambdaS: t.LambdaS}
		k = min(tp.Step, tp.N-m)
	}
	prep, err = s.PrepareTransfer(ctx, device, tp, k, priors, design)
	if err != nil {
		return Prepared{}, table, false, err
	}
	if table != nil {
		if err := prep.Run.SetInterval(device, engine.IntervalWidth{Max: table.MaxWidth, Mean: table.MeanWidth, Target: tp.Width, Measured: m}); err != nil {
			return Prepared{}, table, false, err
		}
	}
	return prep, table, false, nil
}

// otherSpaces lists the spaces other than the session's in which the store
// holds plan records of device (none on any error: it only sharpens an
// error message).
func (s *Session) otherSpaces(ctx context.Context, device string) []string {
	var out []string
	for r, err := range s.st.Records(ctx, store.Query{Device: device, Kind: store.KindPlan}) {
		if err != nil {
			return nil
		}
		if r.Space != s.sp.Name && !slices.Contains(out, r.Space) {
			out = append(out, r.Space)
		}
	}
	return out
}
