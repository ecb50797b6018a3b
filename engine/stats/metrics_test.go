package stats

import (
	"math"
	"testing"
)

func TestErrorMetrics(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name                    string
		pred, truth             []float64
		frac                    float64
		mape, within, mae, rmse float64
	}{
		// Relative errors .1, .1, 0, .3 → MAPE .125; within 10% (boundary
		// included): 3 of 4; absolute errors 10, 10, 0, 30 → MAE 12.5,
		// RMSE √((100+100+0+900)/4) = √275.
		{"latency ms", []float64{110, 90, 100, 130}, []float64{100, 100, 100, 100}, 0.1, 0.125, 0.75, 12.5, math.Sqrt(275)},
		// Relative errors 0.5 and 0.25 → MAPE .375; within 30%: 1 of 2;
		// absolute errors 1 and 1 → MAE 1, RMSE 1.
		{"mixed scale", []float64{3, 5}, []float64{2, 4}, 0.3, 0.375, 0.5, 1, 1},
		{"perfect", []float64{1, 2}, []float64{1, 2}, 0, 0, 1, 0, 0},
		{"zero truth", []float64{1}, []float64{0}, 0.1, math.Inf(1), 0, 1, 1},
		{"empty", nil, nil, 0.1, nan, nan, nan, nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := MAPE(tc.pred, tc.truth); !near(got, tc.mape, 1e-12) {
				t.Errorf("MAPE = %g, want %g", got, tc.mape)
			}
			if got := WithinFrac(tc.pred, tc.truth, tc.frac); !near(got, tc.within, 1e-12) {
				t.Errorf("WithinFrac(%g) = %g, want %g", tc.frac, got, tc.within)
			}
			if got := MAE(tc.pred, tc.truth); !near(got, tc.mae, 1e-12) {
				t.Errorf("MAE = %g, want %g", got, tc.mae)
			}
			if got := RMSE(tc.pred, tc.truth); !near(got, tc.rmse, 1e-12) {
				t.Errorf("RMSE = %g, want %g", got, tc.rmse)
			}
		})
	}
}
