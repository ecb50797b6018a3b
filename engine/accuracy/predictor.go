package accuracy

import (
	"context"
	"fmt"

	"blockprof/engine/predict"
	"blockprof/model"
)

// PredictedLabel is the label of predicted values.
const PredictedLabel = "predicted"

// PredictorSource is the source kind "predictor": table values where the
// table has the arch, the accuracy predictor's estimate elsewhere.
type PredictorSource struct {
	table *Records
	model *predict.Top1
}

// NewPredictor fits the accuracy predictor (predict.FitTop1) on every
// record of t. Fitting cross-validates the feature sets and λ on t only.
func NewPredictor(t *Records, sp *model.Space, opts predict.Top1Options) (*PredictorSource, error) {
	archs, y := t.Archs()
	m, err := predict.FitTop1(sp, archs, y, opts)
	if err != nil {
		return nil, fmt.Errorf("accuracy predictor on %s: %w", t.Name(), err)
	}
	return &PredictorSource{table: t, model: m}, nil
}

// Model is the fitted predictor.
func (p *PredictorSource) Model() *predict.Top1 { return p.model }

// Table is the table it was fitted on.
func (p *PredictorSource) Table() *Records { return p.table }

// Top1 returns the table's value when it has a, else the prediction
// (Provenance Predicted).
func (p *PredictorSource) Top1(ctx context.Context, a model.Arch) (Value, error) {
	if v, err := p.table.Top1(ctx, a); err == nil {
		return v, nil
	}
	return Value{
		Top1:       p.model.Predict(a),
		Provenance: Predicted,
		Label:      PredictedLabel,
		Source:     fmt.Sprintf("predictor:%s(%s) on %s", p.model.Name(), p.model.CV().Chosen.Features, p.table.sourceName()),
	}, nil
}
