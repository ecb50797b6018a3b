package cli

import (
	"fmt"

	"blockprof/engine/predict"
	"blockprof/engine/session"
	"blockprof/model"
)

// peStoreRecords reads device's plan measurements of space sp from the
// store at db as predict-eval records: the records Series analyses (the
// newest of each arch under the device's current settings, probe-corrected
// where the device timed a probe), one per arch, through the session's
// Data (what export-data writes).
func peStoreRecords(env *Env, cfgPath, db, device string, sp *model.Space) ([]predict.Record, error) {
	if device == "" {
		return nil, fmt.Errorf("predict-eval: --store needs --device (a device of the store)")
	}
	cfg, err := loadConfig(env, cfgPath)
	if err != nil {
		return nil, err
	}
	sess, err := session.Open(env.Ctx, session.Options{Config: cfg, Space: sp.Name, StorePath: db, Version: env.Version})
	if err != nil {
		return nil, fmt.Errorf("predict-eval: %w", err)
	}
	defer sess.Close()
	lines, _, err := sess.Data(env.Ctx, device)
	if err != nil {
		return nil, fmt.Errorf("predict-eval: %w", err)
	}
	seen := map[string]bool{}
	var out []predict.Record
	for i, l := range lines {
		a, err := sp.FromOFA(l.Arch)
		if err != nil {
			return nil, fmt.Errorf("predict-eval: store %s: %w", db, err)
		}
		if seen[a.String()] {
			continue // the same arch in another plan role
		}
		seen[a.String()] = true
		e := l.Latency[device]
		v := e.Median
		if e.ProbeCorrected > 0 {
			v = e.ProbeCorrected
		}
		out = append(out, predict.Record{Line: i + 1, Arch: a, MACs: l.MACs, Params: l.Params,
			Latency: map[string]predict.LatencySummary{device: {Median: v, Min: e.Min, Max: e.Max, N: e.N}}})
	}
	return out, nil
}
