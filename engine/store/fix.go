package store

import (
	"fmt"
	"strconv"
	"strings"

	"blockprof/model"
)

// ParseFix reads a Record's Fix back into a model.Fix: "" gives nil (a
// uniform arch), "u2.l3=e6k7" the fixed block e6k7 at layer 3 of unit 2
// (1-based), as model.Fix.String writes it.
func ParseFix(text string) (*model.Fix, error) {
	if text == "" {
		return nil, nil
	}
	bad := func(why string) (*model.Fix, error) {
		return nil, fmt.Errorf("fix %q: %s (want u<unit>.l<layer>=<block>, e.g. u2.l3=e6k7)", text, why)
	}
	loc, block, ok := strings.Cut(text, "=")
	if !ok {
		return bad("no '='")
	}
	u, l, ok := strings.Cut(loc, ".")
	if !ok || !strings.HasPrefix(u, "u") || !strings.HasPrefix(l, "l") {
		return bad("location is not u<unit>.l<layer>")
	}
	unit, err1 := strconv.Atoi(u[1:])
	layer, err2 := strconv.Atoi(l[1:])
	if err1 != nil || err2 != nil || unit < 1 || layer < 0 {
		return bad("unit and layer must be numbers, unit ≥ 1")
	}
	b, err := model.ParseBlock(block)
	if err != nil {
		return nil, fmt.Errorf("fix %q: %w", text, err)
	}
	return &model.Fix{Unit: unit, Layer: layer, Block: b}, nil
}
