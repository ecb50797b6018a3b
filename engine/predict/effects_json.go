package predict

import (
	"encoding/json"
	"math"
	"strconv"
)

// num marshals NaN and ±Inf (e.g. a standard error with no residual
// degrees of freedom left) as null instead of failing.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	x := float64(n)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

// MarshalJSON writes the effects with undefined numbers as null.
func (e Effects) MarshalJSON() ([]byte, error) {
	type blockJSON struct {
		Unit   int    `json:"unit"`
		Key    string `json:"block"`
		Cost   num    `json:"cost"`
		SE     num    `json:"se"`
		Rel    num    `json:"rel"`
		RelSE  num    `json:"rel_se"`
		Layers int    `json:"layers"`
	}
	type depthJSON struct {
		Unit   int `json:"unit"`
		Depth  int `json:"depth"`
		Effect num `json:"effect"`
		SE     num `json:"se"`
		Archs  int `json:"archs"`
	}
	type effectJSON struct {
		Name   string `json:"name"`
		Effect num    `json:"effect"`
		SE     num    `json:"se"`
	}
	out := struct {
		Scale  Scale        `json:"scale"`
		Base   num          `json:"base"`
		BaseSE num          `json:"base_se"`
		Blocks []blockJSON  `json:"blocks"`
		Depths []depthJSON  `json:"depths"`
		Other  []effectJSON `json:"other,omitempty"`
		N      int          `json:"n"`
		Lambda num          `json:"lambda"`
		DF     num          `json:"df"`
		Sigma  num          `json:"sigma"`
	}{Scale: e.Scale, Base: num(e.Base), BaseSE: num(e.BaseSE), N: e.N, Lambda: num(e.Lambda), DF: num(e.DF), Sigma: num(e.Sigma)}
	for _, b := range e.Blocks {
		out.Blocks = append(out.Blocks, blockJSON{b.Unit, b.Key, num(b.Cost), num(b.SE), num(b.Rel), num(b.RelSE), b.Layers})
	}
	for _, d := range e.Depths {
		out.Depths = append(out.Depths, depthJSON{d.Unit, d.Depth, num(d.Effect), num(d.SE), d.Archs})
	}
	for _, o := range e.Other {
		out.Other = append(out.Other, effectJSON{o.Name, num(o.Effect), num(o.SE)})
	}
	return json.Marshal(out)
}
