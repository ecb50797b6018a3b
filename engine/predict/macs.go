package predict

import (
	"fmt"

	"blockprof/devices"
	"blockprof/engine/stats"
	"blockprof/model"
)

// MACsLinear is the baseline latency ≈ a + b·MACs, fitted by least squares.
type MACsLinear struct {
	sp *model.Space
	// A is the intercept (metric units), B the slope per GMAC.
	A, B float64
}

// FitMACs fits the MACs-only baseline to archs of sp and their metric y.
func FitMACs(sp *model.Space, archs []model.Arch, y []float64) (*MACsLinear, error) {
	if len(archs) != len(y) {
		return nil, fmt.Errorf("macs fit: %d archs but %d values", len(archs), len(y))
	}
	if len(archs) < 2 {
		return nil, fmt.Errorf("macs fit: %d measurements; need at least 2", len(archs))
	}
	x := make([][]float64, len(archs))
	for i, a := range archs {
		g, err := gmacs(sp, a)
		if err != nil {
			return nil, fmt.Errorf("macs fit: %w", err)
		}
		x[i] = []float64{g}
	}
	f, err := stats.Ridge(x, y, 0, stats.RidgeOptions{})
	if err != nil {
		return nil, fmt.Errorf("macs fit: %w", err)
	}
	return &MACsLinear{sp: sp, A: f.Intercept, B: f.Coef[0]}, nil
}

func gmacs(sp *model.Space, a model.Arch) (float64, error) {
	net, err := sp.Network(a)
	if err != nil {
		return 0, err
	}
	return float64(net.MACs()) / 1e9, nil
}

// Predict estimates the metric of a (NaN if a is not in the space).
func (m *MACsLinear) Predict(a model.Arch) float64 {
	g, err := gmacs(m.sp, a)
	if err != nil {
		return nan()
	}
	return m.A + m.B*g
}

// Name is "macs".
func (m *MACsLinear) Name() string { return "macs" }

// Provenance is devices.Predicted.
func (m *MACsLinear) Provenance() devices.Provenance { return devices.Predicted }
