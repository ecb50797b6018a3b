package predict

import (
	"fmt"
	"strconv"
	"strings"

	"blockprof/devices"

	"blockprof/model"
)

// LatencyEval is a latency predictor fitted on training records of one
// latency key and its predictions of held-out test records.
type LatencyEval struct {
	NTrain, NTest int
	// Pred and Truth are the test records' predicted and recorded
	// latencies, in order.
	Pred, Truth []float64
	// Detail describes the fitted model; Scale and Lambda are what the
	// additive model's cross-validation chose (empty and nil for macs).
	Detail     string
	Scale      string
	Lambda     *float64
	Provenance string
}

// EvaluateLatency fits the named model ("additive" or "macs") on train and
// predicts test. scale is "auto", "linear" or "log" (additive).
func EvaluateLatency(sp *model.Space, train, test []Record, key, modelName, scale string, seed uint64) (LatencyEval, error) {
	atr, ytr, err := Latencies(train, key)
	if err != nil {
		return LatencyEval{}, fmt.Errorf("train: %w", err)
	}
	ate, yte, err := Latencies(test, key)
	if err != nil {
		return LatencyEval{}, fmt.Errorf("test: %w", err)
	}
	out := LatencyEval{NTrain: len(atr), NTest: len(ate), Truth: yte}
	var p Predictor
	switch modelName {
	case "additive":
		sc := Scale(scale)
		if scale == "auto" {
			sc = ScaleAuto
		}
		m, err := FitAdditive(sp, atr, ytr, AdditiveOptions{Scale: sc, Seed: seed})
		if err != nil {
			return out, err
		}
		p = m
		lam, _ := strconv.ParseFloat(strconv.FormatFloat(m.CV().Chosen.Lambda, 'g', 3, 64), 64)
		out.Scale, out.Lambda = string(m.Scale()), &lam
		out.Detail = fmt.Sprintf("scale %s, λ=%g (both chosen by 5-fold CV on the training records)", m.Scale(), lam)
		if sc != ScaleAuto {
			out.Detail = fmt.Sprintf("scale %s (--scale), λ=%g (chosen by 5-fold CV on the training records)", m.Scale(), lam)
		}
	case "macs":
		m, err := FitMACs(sp, atr, ytr)
		if err != nil {
			return out, err
		}
		p = m
		out.Detail = fmt.Sprintf("latency ≈ %.4g + %.4g·GMACs", m.A, m.B)
	default:
		return out, fmt.Errorf("--model %q: want additive or macs", modelName)
	}
	out.Pred = make([]float64, len(ate))
	for i, a := range ate {
		out.Pred[i] = p.Predict(a)
	}
	out.Provenance = string(p.Provenance())
	return out, nil
}

// Top1Eval is the accuracy predictor fitted on training records and its
// predictions of held-out test records.
type Top1Eval struct {
	NTrain, NTest int
	Pred, Truth   []float64
	Name          string
	Features      string
	Lambda        float64
	Provenance    string
}

// EvaluateTop1 fits the top-1 predictor on train and predicts test.
func EvaluateTop1(sp *model.Space, train, test []Record, opts Top1Options) (Top1Eval, error) {
	atr, ytr, err := Top1s(train)
	if err != nil {
		return Top1Eval{}, fmt.Errorf("train: %w", err)
	}
	ate, yte, err := Top1s(test)
	if err != nil {
		return Top1Eval{}, fmt.Errorf("test: %w", err)
	}
	m, err := FitTop1(sp, atr, ytr, opts)
	if err != nil {
		return Top1Eval{}, err
	}
	out := Top1Eval{NTrain: len(atr), NTest: len(ate), Truth: yte, Name: m.Name(), Provenance: string(m.Provenance())}
	out.Pred = make([]float64, len(ate))
	for i, a := range ate {
		out.Pred[i] = m.Predict(a)
	}
	ch := m.CV().Chosen
	out.Features = ch.Features
	out.Lambda, _ = strconv.ParseFloat(strconv.FormatFloat(ch.Lambda, 'g', 3, 64), 64)
	return out, nil
}

// ShotsEval is a few-shot latency evaluation: a model fitted on N archs of
// the training records (chosen by the transfer design, or uniformly for the
// from-scratch models) and its predictions of held-out test records.
type ShotsEval struct {
	LatencyEval
	// Chosen are the training records' lines that were "measured".
	Chosen []int
	// Lo and Hi are 95% predictive intervals of the test records (transfer
	// only; nil otherwise).
	Lo, Hi []float64
	// Label is the values' label, e.g. "predicted (transfer from h100, 20
	// measured)".
	Label string
}

// EvaluateShots fits modelName on shots archs of train and predicts test:
//   - "transfer": the shots archs are chosen by ChooseTransferArchs from
//     train (the pool) given priors, and FitTransfer is fitted on their
//     recorded latencies of key;
//   - "additive", "macs": the from-scratch models on shots archs drawn
//     uniformly (without replacement, by seed) from train.
//
// Test records are never used for choosing, fitting or tuning.
func EvaluateShots(sp *model.Space, train, test []Record, key, modelName string, shots int, priors []TransferPrior, seed uint64) (ShotsEval, error) {
	atr, ytr, err := Latencies(train, key)
	if err != nil {
		return ShotsEval{}, fmt.Errorf("train: %w", err)
	}
	ate, yte, err := Latencies(test, key)
	if err != nil {
		return ShotsEval{}, fmt.Errorf("test: %w", err)
	}
	if shots < 3 || shots > len(atr) {
		return ShotsEval{}, fmt.Errorf("--shots %d: want 3..%d (the training records)", shots, len(atr))
	}
	var idx []int
	switch modelName {
	case "transfer":
		if len(priors) == 0 {
			return ShotsEval{}, fmt.Errorf("--model transfer needs at least one prior device (--prior FILE:KEY)")
		}
		idx, err = ChooseTransferArchs(sp, priors, nil, atr, shots, TransferDesignOptions{})
		if err != nil {
			return ShotsEval{}, err
		}
	case "additive", "macs":
		idx = newRand(seed).Perm(len(atr))[:shots]
	default:
		return ShotsEval{}, fmt.Errorf("--model %q with --shots: want transfer, additive or macs", modelName)
	}
	archs, y := pick(atr, idx), pick(ytr, idx)
	out := ShotsEval{LatencyEval: LatencyEval{NTrain: shots, NTest: len(ate), Truth: yte}}
	for _, i := range idx {
		out.Chosen = append(out.Chosen, train[i].Line)
	}
	var p Predictor
	switch modelName {
	case "transfer":
		m, err := FitTransfer(sp, priors, archs, y, TransferOptions{})
		if err != nil {
			return out, err
		}
		p = m
		out.Detail = fmt.Sprintf("log latency ≈ c + Σ s·prior + δ; scales %s; most likely λ=%.3g, λ_s=%.3g (averaged over the grid by marginal likelihood); σ=%.3g (log)", fmtScales(m.Scales()), m.Lambda(), m.LambdaS(), m.Sigma())
		out.Label = m.Label()
		out.Lo, out.Hi = make([]float64, len(ate)), make([]float64, len(ate))
		for i, a := range ate {
			out.Lo[i], out.Hi[i] = m.Interval(a, 0.95)
		}
	case "additive":
		m, err := FitAdditive(sp, archs, y, AdditiveOptions{Seed: seed})
		if err != nil {
			return out, err
		}
		p = m
		out.Detail = fmt.Sprintf("from scratch on %d uniform archs; scale %s, λ=%.3g (5-fold CV)", shots, m.Scale(), m.CV().Chosen.Lambda)
		out.Label = fmt.Sprintf("%s (additive, %d measured)", devices.Predicted, shots)
	case "macs":
		m, err := FitMACs(sp, archs, y)
		if err != nil {
			return out, err
		}
		p = m
		out.Detail = fmt.Sprintf("latency ≈ %.4g + %.4g·GMACs on %d uniform archs", m.A, m.B, shots)
		out.Label = fmt.Sprintf("%s (macs, %d measured)", devices.Predicted, shots)
	}
	out.Pred = make([]float64, len(ate))
	for i, a := range ate {
		out.Pred[i] = p.Predict(a)
	}
	out.Provenance = string(p.Provenance())
	return out, nil
}

func fmtScales(s []Effect) string {
	parts := make([]string, len(s))
	for i, e := range s {
		parts[i] = fmt.Sprintf("%s %.3f±%.3f", e.Name, e.Effect, e.SE)
	}
	return strings.Join(parts, ", ")
}

// Coverage is the fraction of truth inside [lo, hi] (NaN without intervals).
func Coverage(lo, hi, truth []float64) float64 {
	if len(lo) == 0 {
		return nan()
	}
	in := 0
	for i, v := range truth {
		if v >= lo[i] && v <= hi[i] {
			in++
		}
	}
	return float64(in) / float64(len(truth))
}
