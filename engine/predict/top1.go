package predict

import (
	"fmt"
	"math"
	"slices"

	"blockprof/devices"
	"blockprof/engine/stats"
	"blockprof/model"
)

// Feature sets of the accuracy predictor, from the baseline to the
// richest; FitTop1 picks among them by cross-validation.
const (
	// FeatSlots: one-hot of each layer slot's content (one of the unit's
	// blocks, or "absent" past the unit's depth), plus the stem choices of
	// bottleneck spaces and the resolution. The per-slot one-hot ridge.
	FeatSlots = "slots"
	// FeatSlotsDepth adds a one-hot of every unit's depth.
	FeatSlotsDepth = "slots+depth"
	// FeatSlotsCapacity adds the network's capacity: log MACs, log params,
	// their squares and their product (standardised on the training archs,
	// unpenalised), so the one-hots only have to model what capacity misses.
	FeatSlotsCapacity = "slots+capacity"
	// FeatSlotsCapacityPairs adds pairwise terms within each unit: for every
	// slot the product of its centred kernel and expansion, and for every
	// pair of slots the products of their centred kernels and of their
	// centred expansions (0 for absent slots).
	FeatSlotsCapacityPairs = "slots+capacity+pairs"
)

// Top1FeatureSets lists the feature sets in order of richness.
func Top1FeatureSets() []string {
	return []string{FeatSlots, FeatSlotsDepth, FeatSlotsCapacity, FeatSlotsCapacityPairs}
}

// Top1Options tune FitTop1. The zero value tries every feature set and
// picks it and λ by 5-fold cross-validation on the training data.
type Top1Options struct {
	// Features are the candidate feature sets (default Top1FeatureSets()).
	Features []string
	// Lambda fixes the ridge penalty of the one-hot and pair columns; 0
	// picks it by CV from 1e-4..1e3 (one per decade).
	Lambda float64
	// Folds of the cross-validation (default 5) and the Seed of the split
	// (default 1).
	Folds int
	Seed  uint64
	// Neighbours are the candidate k of the nearest-neighbour residual
	// correction (default 0, 5, 10, 20; 0 turns it off); NoNeighbours
	// skips it.
	Neighbours   []int
	NoNeighbours bool
}

// Top1 is the accuracy predictor: a ridge regression of top-1 (%) on the
// features of the chosen set (see the Feat* constants), optionally
// corrected by the k nearest training archs' residuals. Its values are
// predicted, not measured.
//
// The residual correction adds Σ w_j r_j / Σ w_j over the k training archs
// nearest to a (distance = number of layer slots, stem choices and
// resolution that differ; w_j = 1/(1+distance)), where r_j is arch j's
// out-of-fold residual of the ridge. k is chosen with the feature set's
// out-of-fold predictions, each arch's neighbours excluding itself (an
// approximate cross-validation: r_j comes from a fold model that may have
// seen the arch being scored, a small leak that favours k > 0 slightly).
type Top1 struct {
	enc *slotDesign
	fit *stats.RidgeFit
	cv  CVReport
	// Residual correction: k neighbours (0: off), the training archs'
	// slot codes and out-of-fold residuals.
	k     int
	codes [][]int16
	res   []float64
}

// FitTop1 fits the accuracy predictor to archs of sp and their top-1 y.
func FitTop1(sp *model.Space, archs []model.Arch, y []float64, opts Top1Options) (*Top1, error) {
	if len(archs) != len(y) {
		return nil, fmt.Errorf("top-1 fit: %d archs but %d values", len(archs), len(y))
	}
	if len(archs) < 5 {
		return nil, fmt.Errorf("top-1 fit: %d archs; need at least 5 (hundreds for a useful predictor)", len(archs))
	}
	for i, a := range archs {
		if err := sp.Check(a); err != nil {
			return nil, fmt.Errorf("top-1 fit: %w", err)
		}
		if math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
			return nil, fmt.Errorf("top-1 fit: value %d (%s) is not finite", i+1, a)
		}
	}
	sets := opts.Features
	if len(sets) == 0 {
		sets = Top1FeatureSets()
	}
	if opts.Seed == 0 {
		opts.Seed = 1
	}
	k := clampFolds(opts.Folds, len(y))
	lambdas := lambdaGrid()
	if opts.Lambda > 0 {
		lambdas = []float64{opts.Lambda}
	}
	rep := CVReport{Folds: k, Criterion: "rmse"}
	var best *Top1
	bestScore := math.Inf(1)
	for _, set := range sets {
		enc, err := newSlotDesign(sp, set, archs)
		if err != nil {
			return nil, err
		}
		x := enc.matrix(archs)
		cv, err := stats.RidgeCV(x, y, lambdas, k, newRand(opts.Seed), stats.RidgeOptions{Penalty: enc.penalty})
		if err != nil {
			return nil, fmt.Errorf("top-1 fit (%s): %w", set, err)
		}
		score := math.Inf(1)
		for i, l := range cv.Lambdas {
			if l == cv.Lambda {
				score = math.Sqrt(cv.MSE[i])
			}
		}
		pt := CVPoint{Features: set, Lambda: cv.Lambda, Score: score}
		rep.Tried = append(rep.Tried, pt)
		if score < bestScore {
			bestScore = score
			best = &Top1{enc: enc, fit: cv.Fit}
			rep.Chosen = pt
		}
	}
	if best == nil {
		return nil, fmt.Errorf("top-1 fit: no feature set could be fitted")
	}
	if !opts.NoNeighbours {
		ks := opts.Neighbours
		if len(ks) == 0 {
			ks = []int{0, 5, 10, 20}
		}
		if err := best.chooseNeighbours(archs, y, ks, k, opts.Seed, &rep); err != nil {
			return nil, err
		}
	}
	best.cv = rep
	return best, nil
}

// chooseNeighbours computes the out-of-fold residuals of the chosen ridge
// and picks k for the residual correction by leave-one-out over them.
func (m *Top1) chooseNeighbours(archs []model.Arch, y []float64, ks []int, folds int, seed uint64, rep *CVReport) error {
	x := m.enc.matrix(archs)
	oof, err := crossVal(len(y), folds, seed, func(train, test []int) ([]float64, error) {
		f, err := stats.Ridge(pick(x, train), pick(y, train), m.fit.Lambda, stats.RidgeOptions{Penalty: m.enc.penalty})
		if err != nil {
			return nil, err
		}
		p := make([]float64, len(test))
		for i, j := range test {
			p[i] = f.Predict(x[j])
		}
		return p, nil
	})
	if err != nil {
		return fmt.Errorf("top-1 fit: residuals: %w", err)
	}
	codes := make([][]int16, len(archs))
	res := make([]float64, len(archs))
	for i, a := range archs {
		codes[i] = m.enc.codes(a)
		res[i] = y[i] - oof[i]
	}
	// Each arch's nearest neighbours, found once for the largest k.
	kmax := 0
	for _, k := range ks {
		if k > 0 && k < len(y) {
			kmax = max(kmax, k)
		}
	}
	near := make([][]neighbour, len(y))
	if kmax > 0 {
		for i := range y {
			near[i] = nearest(codes, codes[i], kmax, i)
		}
	}
	bestK, bestScore := 0, math.Inf(1)
	for _, k := range ks {
		if k < 0 || k >= len(y) {
			continue
		}
		p := make([]float64, len(y))
		for i := range y {
			p[i] = oof[i] + weightedResidual(res, near[i][:min(k, len(near[i]))])
		}
		score := stats.RMSE(p, y)
		rep.Tried = append(rep.Tried, CVPoint{Features: fmt.Sprintf("%s+knn%d", m.enc.set, k), Lambda: m.fit.Lambda, Score: score})
		if score < bestScore {
			bestK, bestScore = k, score
		}
	}
	m.k, m.codes, m.res = bestK, codes, res
	if bestK > 0 {
		rep.Chosen = CVPoint{Features: fmt.Sprintf("%s+knn%d", m.enc.set, bestK), Lambda: m.fit.Lambda, Score: bestScore}
	}
	return nil
}

// neighbour is a training arch at a slot distance.
type neighbour struct {
	d int
	i int
}

// nearest returns the k training archs nearest to code (skipping index
// self, -1 for none), nearest first, ties in training order.
func nearest(codes [][]int16, code []int16, k, self int) []neighbour {
	near := make([]neighbour, 0, k+1)
	for j, c := range codes {
		if j == self {
			continue
		}
		d := 0
		for t, v := range c {
			if v != code[t] {
				d++
			}
		}
		if len(near) == k && d >= near[k-1].d {
			continue
		}
		pos := len(near)
		for pos > 0 && near[pos-1].d > d {
			pos--
		}
		near = slices.Insert(near, pos, neighbour{d, j})
		if len(near) > k {
			near = near[:k]
		}
	}
	return near
}

// weightedResidual is Σ w_j r_j / Σ w_j over the neighbours, with
// w = 1/(1+distance); 0 for none.
func weightedResidual(res []float64, near []neighbour) float64 {
	s, w := 0.0, 0.0
	for _, n := range near {
		wt := 1 / (1 + float64(n.d))
		s += wt * res[n.i]
		w += wt
	}
	if w == 0 {
		return 0
	}
	return s / w
}

// correction is the residual correction of code from its k nearest
// training archs (skipping index self, -1 for none).
func correction(codes [][]int16, res []float64, code []int16, k, self int) float64 {
	if k <= 0 {
		return 0
	}
	return weightedResidual(res, nearest(codes, code, k, self))
}

// Predict estimates the top-1 (%) of a.
func (m *Top1) Predict(a model.Arch) float64 {
	p := m.fit.Predict(m.enc.row(a))
	if m.k > 0 {
		p += correction(m.codes, m.res, m.enc.codes(a), m.k, -1)
	}
	return p
}

// Neighbours is the k of the residual correction (0 when off).
func (m *Top1) Neighbours() int { return m.k }

// Name is "top1-ridge".
func (m *Top1) Name() string { return "top1-ridge" }

// Provenance is devices.Predicted.
func (m *Top1) Provenance() devices.Provenance { return devices.Predicted }

// Features is the chosen feature set (one of the Feat* constants); see
// Neighbours for the residual correction.
func (m *Top1) Features() string { return m.enc.set }

// CV reports the cross-validation that chose the feature set and λ.
func (m *Top1) CV() CVReport { return m.cv }

// slotDesign encodes an arch for the accuracy predictor.
type slotDesign struct {
	sp      *model.Space
	set     string
	depth   bool
	pairs   bool
	cap     bool
	capMean [5]float64
	capStd  [5]float64
	n       int       // columns
	penalty []float64 // per column: 1, or 0 for capacity columns
	// kc and ec centre a block's kernel and expansion per unit to ~[-1, 1].
	kMid, kHalf, eMid, eHalf []float64
}

func newSlotDesign(sp *model.Space, set string, train []model.Arch) (*slotDesign, error) {
	d := &slotDesign{sp: sp, set: set}
	switch set {
	case FeatSlots:
	case FeatSlotsDepth:
		d.depth = true
	case FeatSlotsCapacity:
		d.cap = true
	case FeatSlotsCapacityPairs:
		d.cap, d.pairs = true, true
	default:
		return nil, fmt.Errorf("top-1 features %q: want one of %v", set, Top1FeatureSets())
	}
	for _, u := range sp.Units {
		var ks, es []float64
		for _, b := range u.Blocks {
			ks = append(ks, float64(b.K))
			es = append(es, b.E)
		}
		mid := func(xs []float64) (float64, float64) {
			lo, hi := slices.Min(xs), slices.Max(xs)
			h := (hi - lo) / 2
			if h == 0 {
				h = 1
			}
			return (lo + hi) / 2, h
		}
		km, kh := mid(ks)
		em, eh := mid(es)
		d.kMid, d.kHalf = append(d.kMid, km), append(d.kHalf, kh)
		d.eMid, d.eHalf = append(d.eMid, em), append(d.eHalf, eh)
	}
	if d.cap {
		// Standardise the capacity columns on the training archs.
		cols := make([][]float64, 5)
		for _, a := range train {
			c, err := capacity(sp, a)
			if err != nil {
				return nil, fmt.Errorf("top-1 fit: %w", err)
			}
			for j := range cols {
				cols[j] = append(cols[j], c[j])
			}
		}
		for j := range cols {
			d.capMean[j] = stats.Mean(cols[j])
			d.capStd[j] = stats.Std(cols[j])
			if !(d.capStd[j] > 0) {
				d.capStd[j] = 1
			}
		}
	}
	d.n = len(d.raw(sp.MinArch(sp.Resolution)))
	d.penalty = make([]float64, d.n)
	for j := range d.penalty {
		d.penalty[j] = 1
	}
	if d.cap {
		for j := d.n - 5; j < d.n; j++ {
			d.penalty[j] = 0
		}
	}
	return d, nil
}

// capacity is log MACs, log params, their squares and product.
func capacity(sp *model.Space, a model.Arch) ([5]float64, error) {
	net, err := sp.Network(a)
	if err != nil {
		return [5]float64{}, err
	}
	m, p := math.Log(float64(net.MACs())), math.Log(float64(net.Params()))
	return [5]float64{m, p, m * m, p * p, m * p}, nil
}

func (d *slotDesign) matrix(archs []model.Arch) [][]float64 {
	x := make([][]float64, len(archs))
	for i, a := range archs {
		x[i] = d.row(a)
	}
	return x
}

func (d *slotDesign) row(a model.Arch) []float64 {
	x := d.raw(a)
	if len(x) != d.n {
		// An arch of another shape (not in the space): no information.
		return make([]float64, d.n)
	}
	return x
}

// raw builds the feature row; the capacity columns come last.
func (d *slotDesign) raw(a model.Arch) []float64 {
	sp := d.sp
	var x []float64
	onehot := func(n, i int) {
		for j := 0; j < n; j++ {
			if j == i {
				x = append(x, 1)
			} else {
				x = append(x, 0)
			}
		}
	}
	for u, unit := range sp.Units {
		var blocks []model.Block
		if u < len(a.Units) {
			blocks = a.Units[u]
		}
		for j := 0; j < unit.Slots; j++ {
			i := len(unit.Blocks) // absent
			if j < len(blocks) {
				if bi := slices.Index(unit.Blocks, blocks[j]); bi >= 0 {
					i = bi
				}
			}
			onehot(len(unit.Blocks)+1, i)
		}
		if d.depth {
			onehot(len(unit.Depths), slices.Index(unit.Depths, len(blocks)))
		}
		if d.pairs {
			kc := make([]float64, unit.Slots)
			ec := make([]float64, unit.Slots)
			for j := range min(len(blocks), unit.Slots) {
				kc[j] = (float64(blocks[j].K) - d.kMid[u]) / d.kHalf[u]
				ec[j] = (blocks[j].E - d.eMid[u]) / d.eHalf[u]
			}
			for i := range kc {
				x = append(x, kc[i]*ec[i])
				for j := i + 1; j < len(kc); j++ {
					x = append(x, kc[i]*kc[j], ec[i]*ec[j])
				}
			}
		}
	}
	if sp.Family == model.Bottleneck {
		onehot(len(sp.Stem.SkipDepths), slices.Index(sp.Stem.SkipDepths, a.StemDepth))
		onehot(len(sp.Stem.Ratios), a.StemW0)
		onehot(len(sp.Stem.Ratios), a.StemW1)
	}
	if len(sp.Resolutions) > 1 {
		onehot(len(sp.Resolutions), slices.Index(sp.Resolutions, a.Resolution))
	}
	if d.cap {
		c, err := capacity(sp, a)
		if err != nil {
			return nil
		}
		for j := range c {
			x = append(x, (c[j]-d.capMean[j])/d.capStd[j])
		}
	}
	return x
}

// codes is a's content per layer slot (the block's index in the unit, or
// the unit's block count for an absent slot), then the stem choices and
// the resolution: what the residual correction's distance compares.
func (d *slotDesign) codes(a model.Arch) []int16 {
	var c []int16
	for u, unit := range d.sp.Units {
		var blocks []model.Block
		if u < len(a.Units) {
			blocks = a.Units[u]
		}
		for j := 0; j < unit.Slots; j++ {
			i := len(unit.Blocks)
			if j < len(blocks) {
				if bi := slices.Index(unit.Blocks, blocks[j]); bi >= 0 {
					i = bi
				}
			}
			c = append(c, int16(i))
		}
	}
	return append(c, int16(a.StemDepth), int16(a.StemW0), int16(a.StemW1), int16(a.Resolution))
}
