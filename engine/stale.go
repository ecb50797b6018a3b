package engine

import (
	"context"
	"fmt"
	"strings"

	"blockprof/engine/store"
)

// staleWarning says what the device's stale records are and how many of
// their archs this run measures again, e.g. "device cpu: 40 records were
// taken with other settings (kind=sim preset=npu, recorded as simulated);
// they are kept but no longer count: this run measures those archs
// again".
func (w *worker) staleWarning(ctx context.Context) (string, error) {
	// The archs of the stale records, to count those this run takes again.
	archs := map[string]bool{}
	for rec, err := range w.r.store.Records(ctx, store.Query{Device: w.name, Space: w.r.space.Name, Kind: store.KindPlan}) {
		if err != nil {
			return "", err
		}
		if rec.Fingerprint != w.fp {
			archs[rec.Arch] = true
		}
	}
	again := 0
	for _, it := range w.pending {
		if archs[it.canon] {
			again++
		}
	}
	return staleText(w.name, w.stale, again, len(archs)), nil
}

// staleText is the warning of staleWarning: groups (at least one) are
// the stale records, archs the number of their distinct archs, again how
// many of those this run measures.
func staleText(device string, groups []store.StaleGroup, again, archs int) string {
	total := 0
	var parts []string
	for _, g := range groups {
		total += g.Count
		parts = append(parts, fmt.Sprintf("%d under %s", g.Count, g))
	}
	what := groups[0].String()
	if len(groups) > 1 {
		what = strings.Join(parts, "; ")
	}
	var tail string
	switch {
	case again == 0:
		tail = "this run has none of their archs left to measure"
	case again == archs:
		tail = "this run measures those archs again"
	default:
		tail = fmt.Sprintf("this run measures %d of their %d archs again", again, archs)
	}
	return fmt.Sprintf("device %s: %d records were taken with other settings (%s); they are kept but no longer count: %s", device, total, what, tail)
}
