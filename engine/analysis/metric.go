package analysis

import (
	"fmt"

	"blockprof/model"
)

// NetworkMetric returns the function that computes a network-derived
// metric of an architecture of sp, with its unit: "macs" (millions of
// multiply-accumulates) or "params" (millions).
func NetworkMetric(sp *model.Space, metric string) (func(model.Arch) (float64, error), string, error) {
	var get func(*model.Network) int64
	switch metric {
	case "macs":
		get = (*model.Network).MACs
	case "params":
		get = (*model.Network).Params
	default:
		return nil, "", fmt.Errorf("analysis: metric %q is not computed from the network (want macs or params)", metric)
	}
	return func(a model.Arch) (float64, error) {
		net, err := sp.Network(a)
		if err != nil {
			return 0, err
		}
		return float64(get(net)) / 1e6, nil
	}, "M", nil
}

// ObsOf evaluates value on every plan item.
func ObsOf(items []model.PlanItem, value func(model.Arch) (float64, error)) ([]Obs, error) {
	out := make([]Obs, 0, len(items))
	for _, it := range items {
		v, err := value(it.Arch)
		if err != nil {
			return nil, err
		}
		out = append(out, Obs{Arch: it.Arch, Fix: it.Fix, Value: v})
	}
	return out, nil
}
