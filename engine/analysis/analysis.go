// Package analysis turns end-to-end measurements of sampled architectures
// into block-friendliness tables (paper §2): for one space and one metric
// (the latency of one device, an accuracy or proxy score, MACs, params) it
// estimates how much each block at each unit and layer moves the metric.
//
// Two estimators answer the same question:
//
//   - The paper's, from fixed-location samples A_{u,l,b} against uniform
//     samples A: the block-wise response M_b (Eq. 1), the relative
//     expectation M_{u,l,b} = E[M(A_{u,l,b})] − E[M(A)] (Eq. 2) and the
//     relative τ-percentiles Q_τ(M(A_{u,l,b})) − Q_τ(M(A)) (Eq. 3), each with
//     a seeded percentile-bootstrap confidence interval and its sample counts.
//     Needs Σ_u d_u · |B| groups of samples (180 for OFA-MobileNetV3).
//
//   - A regression estimator on uniform samples only: the additive model
//     M(A) ≈ base + Σ_u Σ_{l ≤ d_u} c(u, b_{u,l}) + Σ_u D_u(d_u) (+ unit
//     width and stem terms in bottleneck spaces), fitted by ridge with the
//     penalty chosen by leave-one-out error. Its per-(unit, block) effect is
//     c(u, b) − mean_b' c(u, b'): the block's cost relative to the unit's mean
//     block, which is exactly what Eq. 2 measures at a layer where the
//     paper's sampler leaves the unit's depth law unchanged (layer 1). At a
//     deeper layer l, Eq. 2 also contains the depth shift E[D_u(d) | d ≥ l]
//     − E[D_u(d)]; Fit.PredictLocation adds it, so every Eq. 2 and Eq. 1
//     number has a regression counterpart with a t interval from the fit's
//     covariance. The per-(unit, depth) effect is D_u(d) − E[D_u], the
//     unit's contribution at depth d (with mean blocks) relative to its mean.
//
// Observations not drawn uniformly and without a fix (Obs.NonUniform: archs
// from search runs, like the shared ImageNet accuracy table) enter the
// regression only: it models M given the arch, so how the archs were chosen
// does not bias it as long as the model holds, while the sample baseline,
// Eq. 1–3 and the whole-unit contrasts assume uniform draws. Without uniform
// archs the baseline is the regression's E[M(A)] over uniform draws, the
// same expectation its M_b takes.
//
// Observations with a whole-unit fix (Fix.Layer == 0: every layer of the unit
// holds the block, as in the shared H100/H200 files) are unit-wise
// contrasts: E[M | unit u all b] − E[M(A)], reported with the regression's
// prediction of the same contrast so the two can be checked against each
// other.
//
// Everything is computed from end-to-end numbers only; no per-layer timing.
package analysis

import (
	"encoding/json"
	"fmt"
	"math"

	"blockprof/model"
)

// Obs is one end-to-end observation: an architecture, why it was sampled and
// the metric's value.
type Obs struct {
	Arch model.Arch
	// Fix is nil for a uniform architecture A, the fixed location of an
	// A_{u,l,b}, or, with Layer == 0, a whole-unit fix (every layer of unit
	// Fix.Unit holds Fix.Block; in a bottleneck space a Block with W == 0
	// fixes only the expansion).
	Fix *model.Fix
	// NonUniform marks an arch without a fix that was not drawn uniformly
	// (a search's arch, or one whose sampling is unknown): the estimators
	// that assume uniform draws leave it out, the regression uses it.
	NonUniform bool
	Value      float64
	// Key is the arch's canonical string (Arch.String()) when the series
	// was read from a store, which holds it: front ends name the arch with
	// it instead of printing it again. Empty when not known.
	Key string
}

// Name is the arch's canonical string: Key, or the arch printed when the
// observation has none.
func (o Obs) Name() string {
	if o.Key != "" {
		return o.Key
	}
	return o.Arch.String()
}

// Series is the input of one analysis: one space, one metric on one device.
type Series struct {
	Space *model.Space
	// Device names where latency came from; empty for MACs, params and
	// accuracy.
	Device string
	// Metric is "latency", "accuracy", "proxy", "macs", "params" or any
	// name the caller uses.
	Metric string
	// Unit of the values, e.g. "ms", "%", "M".
	Unit string
	// Label is the provenance shown beside every number: "measured",
	// "replayed (NVIDIA H100)", "table (Note10)", "simulated", "proxy", ...
	Label string
	Obs   []Obs
}

// Options tune the estimators. The zero value gives the defaults.
type Options struct {
	// Taus are the percentiles of Eq. 3 (default 0.05 and 0.95).
	Taus []float64
	// Level is the confidence level of every interval (default 0.95).
	Level float64
	// Boot is the number of bootstrap resamples (default 1000).
	Boot int
	// Seed makes the bootstrap reproducible.
	Seed uint64
	// Mode is the sampler that drew the A_{u,l,b} (default model.FixPaper);
	// the regression's predictions of Eq. 1 and 2 follow it.
	Mode model.FixMode
	// Lambdas overrides the ridge penalties tried (relative to the mean
	// eigenvalue of the centred Gram matrix); the leave-one-out best wins.
	Lambdas []float64
	// NoRegression skips the regression estimator.
	NoRegression bool
}

func (o Options) withDefaults() Options {
	if len(o.Taus) == 0 {
		o.Taus = []float64{0.05, 0.95}
	}
	if o.Level <= 0 || o.Level >= 1 {
		o.Level = 0.95
	}
	if o.Boot <= 0 {
		o.Boot = 1000
	}
	if len(o.Lambdas) == 0 {
		o.Lambdas = []float64{1e-6, 1e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1, 3, 10}
	}
	return o
}

func (o Options) check() error {
	for _, t := range o.Taus {
		if !(t >= 0 && t <= 1) {
			return fmt.Errorf("analysis: percentile τ=%v outside [0, 1]", t)
		}
	}
	return nil
}

// Estimate is a number with its confidence interval and the number of
// observations behind it. Lo and Hi are NaN (null in JSON) when no interval
// can be given (a single observation, or an unidentified effect).
type Estimate struct {
	Value float64
	Lo    float64
	Hi    float64
	// SE is the standard error where the estimator has one (regression), else
	// NaN.
	SE float64
	N  int
}

// HasCI reports whether the estimate has an interval.
func (e Estimate) HasCI() bool { return !math.IsNaN(e.Lo) && !math.IsNaN(e.Hi) }

// Excludes reports whether the interval lies entirely on one side of x.
func (e Estimate) Excludes(x float64) bool { return e.HasCI() && (e.Lo > x || e.Hi < x) }

// Width is Hi − Lo (NaN without an interval).
func (e Estimate) Width() float64 { return e.Hi - e.Lo }

func (e Estimate) String() string {
	if !e.HasCI() {
		return fmt.Sprintf("%.4g (n=%d)", e.Value, e.N)
	}
	return fmt.Sprintf("%.4g [%.4g, %.4g] (n=%d)", e.Value, e.Lo, e.Hi, e.N)
}

func noCI(v float64, n int) Estimate {
	return Estimate{Value: v, Lo: math.NaN(), Hi: math.NaN(), SE: math.NaN(), N: n}
}

type estimateJSON struct {
	Value *float64 `json:"value"`
	Lo    *float64 `json:"lo"`
	Hi    *float64 `json:"hi"`
	SE    *float64 `json:"se,omitempty"`
	N     int      `json:"n"`
}

func fp(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	return &x
}

func unfp(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// MarshalJSON writes NaN fields as null.
func (e Estimate) MarshalJSON() ([]byte, error) {
	return json.Marshal(estimateJSON{Value: fp(e.Value), Lo: fp(e.Lo), Hi: fp(e.Hi), SE: fp(e.SE), N: e.N})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *Estimate) UnmarshalJSON(b []byte) error {
	var j estimateJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = Estimate{Value: unfp(j.Value), Lo: unfp(j.Lo), Hi: unfp(j.Hi), SE: unfp(j.SE), N: j.N}
	return nil
}
