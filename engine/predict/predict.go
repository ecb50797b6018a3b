// Package predict fits predictors of a metric (latency or top-1 accuracy)
// from end-to-end measurements of whole architectures (paper §2): the
// additive latency model used by the regression estimator and by search, a
// MACs-only linear baseline, and the top-1 accuracy predictor. Every fit
// chooses its hyper-parameters by cross-validation on the training data it
// is given, and nothing else.
package predict

import (
	"blockprof/devices"
	"blockprof/model"
)

// Predictor estimates a metric of an architecture. Its values are labelled
// devices.Predicted wherever they are shown. The fitted models of this
// package are read-only after fitting and safe for concurrent use.
type Predictor interface {
	Predict(a model.Arch) float64
	// Name is a short stable identifier, e.g. "additive", "macs",
	// "top1-slots".
	Name() string
	Provenance() devices.Provenance
}

// Scale is the space a model is fitted in.
type Scale string

const (
	// ScaleAuto picks linear or log by cross-validation.
	ScaleAuto Scale = ""
	// ScaleLinear fits the metric itself: effects add in metric units.
	ScaleLinear Scale = "linear"
	// ScaleLog fits log(metric): effects multiply (an effect e scales the
	// metric by exp(e)). Only for positive metrics such as latency.
	ScaleLog Scale = "log"
)

// CVPoint is one cross-validated setting.
type CVPoint struct {
	// Scale (additive) or Features (accuracy predictor) of the setting.
	Scale    Scale   `json:"scale,omitempty"`
	Features string  `json:"features,omitempty"`
	Lambda   float64 `json:"lambda"`
	// Score is the cross-validated error the choice minimises (see
	// CVReport.Criterion): the mean absolute percentage error of the
	// additive model on positive metrics, else the RMSE.
	Score float64 `json:"score"`
}

// CVReport says how a fit chose its hyper-parameters.
type CVReport struct {
	Folds     int       `json:"folds"`
	Criterion string    `json:"criterion"` // "mape" or "rmse"
	Chosen    CVPoint   `json:"chosen"`
	Tried     []CVPoint `json:"tried,omitempty"`
}
