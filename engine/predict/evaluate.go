package predict

import (
	"fmt"
	"strconv"

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
