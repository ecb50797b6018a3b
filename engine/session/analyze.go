package session

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"blockprof/engine/analysis"
	"blockprof/engine/cuts"
	"blockprof/engine/reduce"
	"blockprof/model"
)

// Thresholds below which evidence is called weak where decisions are made.
const (
	// WeakQ2: a leave-one-out R² under this means the additive model
	// explains too little of the metric for its effects to be trusted.
	WeakQ2 = 0.5
	// WeakSpreadShare: more than this share of the archs missed the
	// device's spread target.
	WeakSpreadShare = 0.5
)

// Evidence says how far the numbers of an analysis can be trusted.
type Evidence struct {
	// Provenance is the label of the records behind the numbers.
	Provenance string `json:"provenance"`
	// Records were read, Analysed were used (one resolution, subsampled
	// past MaxObs).
	Records  int `json:"records"`
	Analysed int `json:"analysed"`
	// AboveSpread of the analysed latency records missed SpreadTarget.
	AboveSpread  int     `json:"above_spread_target"`
	SpreadTarget float64 `json:"spread_target,omitempty"`
	// Q2 is the regression's leave-one-out R² (nil: no regression).
	Q2 *float64 `json:"loo_r2"`
	// Lambda is the ridge penalty; Shrinkage says it is strong (effects
	// pulled toward 0, intervals too narrow: under-covered).
	Lambda    float64 `json:"ridge_lambda"`
	Shrinkage bool    `json:"strong_shrinkage"`
	// Stale counts the device's records taken with earlier settings.
	Stale int `json:"stale_records"`
	// Weak says the numbers should not drive cuts without a look; Why
	// says why.
	Weak bool     `json:"weak"`
	Why  []string `json:"why,omitempty"`
}

// Lines describe the evidence, one fact a line.
func (e Evidence) Lines() []string {
	var out []string
	out = append(out, fmt.Sprintf("records: %d analysed of %d (%s)", e.Analysed, e.Records, orDash(e.Provenance)))
	if e.Q2 != nil {
		out = append(out, fmt.Sprintf("fit quality: leave-one-out R² %.2f", *e.Q2))
	} else {
		out = append(out, "fit quality: no regression fit")
	}
	if e.SpreadTarget > 0 {
		out = append(out, fmt.Sprintf("spread: %d of %d archs above the %.0f%% target", e.AboveSpread, e.Analysed, 100*e.SpreadTarget))
	}
	if e.Shrinkage {
		out = append(out, fmt.Sprintf("intervals under-covered: strong ridge shrinkage (λ=%.3g)", e.Lambda))
	}
	if e.Stale > 0 {
		out = append(out, fmt.Sprintf("%d records taken with the device's earlier settings are not used", e.Stale))
	}
	if e.Weak {
		out = append(out, "WEAK EVIDENCE: "+strings.Join(e.Why, "; "))
	}
	return out
}

// Short is a one-line summary for a status bar: "R² 0.93 · spread 4/150 · ok".
func (e Evidence) Short() string {
	var parts []string
	if e.Q2 != nil {
		parts = append(parts, fmt.Sprintf("LOO R² %.2f", *e.Q2))
	} else {
		parts = append(parts, "no fit")
	}
	if e.SpreadTarget > 0 {
		parts = append(parts, fmt.Sprintf("%d/%d above spread target", e.AboveSpread, e.Analysed))
	}
	if e.Shrinkage {
		parts = append(parts, "under-covered intervals")
	}
	if e.Stale > 0 {
		parts = append(parts, fmt.Sprintf("%d stale", e.Stale))
	}
	if e.Weak {
		parts = append(parts, "weak evidence")
	}
	return strings.Join(parts, " · ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Analysis is a friendliness report with the series behind it and the
// quality of its evidence.
type Analysis struct {
	Series   Series
	Report   *analysis.Report
	Evidence Evidence
}

// Analyze reads the series and runs the friendliness analysis (Eq. 1–3
// and the regression estimator) holding the host lock, so that neither
// overlaps a timed window on this machine, and returns the heap they grew
// to the system before it lets go (see Series).
func (s *Session) Analyze(ctx context.Context, req SeriesRequest, opt analysis.Options) (*Analysis, error) {
	var an *Analysis
	err := s.AnalyzeInto(ctx, req, opt, func(a *Analysis) error {
		an = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return an, nil
}

// AnalyzeInto is Analyze for a front end that keeps only part of the
// analysis (the explorer keeps a table, not the parsed series): keep runs
// under the host lock, and what it did not keep is returned to the system
// with the rest of the heap the analysis grew, before a device loads its
// next model. keep must be quick and must not call the session.
func (s *Session) AnalyzeInto(ctx context.Context, req SeriesRequest, opt analysis.Options, keep func(*Analysis) error) error {
	return s.exclusive(ctx, func() error {
		n, err := s.analyzeInto(ctx, req, opt, keep)
		release(n)
		return err
	})
}

// analyzeInto is AnalyzeInto's work under the host lock; it returns the
// number of observations analysed, and nothing of the analysis, so that
// release frees what keep let go.
func (s *Session) analyzeInto(ctx context.Context, req SeriesRequest, opt analysis.Options, keep func(*Analysis) error) (int, error) {
	ser, err := s.series(ctx, req)
	if err != nil {
		return len(ser.Obs), err
	}
	rep, err := analysis.Analyze(ser.Series, opt)
	if err != nil {
		return len(ser.Obs), err
	}
	return len(ser.Obs), keep(&Analysis{Series: ser, Report: rep, Evidence: evidenceOf(ser, rep)})
}

func evidenceOf(ser Series, rep *analysis.Report) Evidence {
	e := Evidence{Provenance: ser.Label, Records: ser.Records, Analysed: len(ser.Obs), AboveSpread: ser.AboveSpread,
		SpreadTarget: ser.SpreadTarget, Stale: ser.Stale}
	if g := rep.Regression; g != nil {
		q := g.Q2
		e.Q2, e.Lambda, e.Shrinkage = &q, g.Lambda, g.Lambda >= analysis.StrongRidge
		if q < WeakQ2 {
			e.Why = append(e.Why, fmt.Sprintf("the additive fit explains little (leave-one-out R² %.2f < %.1f)", q, WeakQ2))
		}
	} else {
		e.Why = append(e.Why, "no regression fit: "+strings.Join(rep.Notes, "; "))
	}
	if e.Analysed > 0 && float64(e.AboveSpread) > WeakSpreadShare*float64(e.Analysed) {
		e.Why = append(e.Why, fmt.Sprintf("%d of %d archs missed the %.0f%% spread target", e.AboveSpread, e.Analysed, 100*e.SpreadTarget))
	}
	if e.Shrinkage {
		e.Why = append(e.Why, "strong shrinkage: the intervals are narrower than the data allow")
	}
	e.Weak = len(e.Why) > 0
	return e
}

// Suggestion is a suggested reduction with the evidence behind it.
type Suggestion struct {
	// Reduction holds the suggestions one by one (rule, text, evidence).
	Reduction reduce.Reduction
	// Cuts are the suggested cuts, each with its own reason (the form the
	// explorer merges); Model is the same as a reduced space (its TOML
	// form, what `analyze --suggest --reduced-out` writes).
	Cuts  cuts.Cuts
	Model model.Reduction
	// Latency and Quality are the evidence of the two analyses; Weak says
	// either is weak: the front end asks before applying.
	Latency, Quality Evidence
	QualityMetric    string
	Weak             bool
}

// ErrNothingToCut is wrapped when the data support no cut.
var ErrNothingToCut = errors.New("no cut is supported by the data yet")

// Suggest proposes a reduced space for the device, trading its latency
// against quality ("" or "accuracy": the space's accuracy source, or its
// proxy score; "macs" or "params": capacity proxies). The explorer's `s`
// and `analyze --suggest` both call it, so the same data give the same
// suggestion.
func (s *Session) Suggest(ctx context.Context, device, quality string, opt analysis.Options) (Suggestion, error) {
	if device == "" {
		return Suggestion{}, errors.New("suggestions need a device's latency")
	}
	if quality == "" {
		quality = MetricAccuracy
	}
	lat, err := s.Analyze(ctx, SeriesRequest{Device: device, Metric: MetricLatency}, opt)
	if err != nil {
		return Suggestion{}, err
	}
	q, err := s.Analyze(ctx, SeriesRequest{Metric: quality}, opt)
	if err != nil {
		return Suggestion{}, fmt.Errorf("quality %s: %w", quality, err)
	}
	return s.SuggestFromAnalyses(lat, q, device)
}

// SuggestFromAnalyses is Suggest on the device's latency and quality
// analyses already made with the session (`analyze --suggest` prints them
// too and does not analyse twice).
func (s *Session) SuggestFromAnalyses(lat, q *Analysis, device string) (Suggestion, error) {
	out, err := SuggestFrom(lat, q, fmt.Sprintf("%s-%s-suggested", s.sp.Name, device))
	out.Model.Device, out.Model.Version = device, s.opts.Version
	return out, err
}
