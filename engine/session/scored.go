package session

import (
	"context"
	"fmt"

	"blockprof/engine/accuracy"
	"blockprof/model"
)

// ScoredArch is an arch of a device's latency series with its score from
// the session's accuracy source.
type ScoredArch struct {
	Arch    string // canonical
	Latency float64
	Score   accuracy.Value
}

// Scored is a device's latency series scored by the accuracy source: the
// points of the explorer's Pareto view. Series is the series' description
// (label, counts, spread) without its observations.
type Scored struct {
	Series Series
	// Analysed counts the observations read (an arch measured at two
	// places in the plan is one point).
	Analysed int
	Archs    []ScoredArch
}

// ScoreSeries reads the latency series of req.Device and scores each of
// its archs once, holding the host lock as Series does; the parsed series
// is let go, and the heap it grew returned to the system, before the lock
// is (a front end keeps the points, not 20,000 parsed archs).
func (s *Session) ScoreSeries(ctx context.Context, req SeriesRequest) (Scored, error) {
	req.Metric = MetricLatency
	var out Scored
	err := s.exclusive(ctx, func() error {
		var err error
		out, err = s.scoreSeries(ctx, req)
		release(out.Analysed)
		return err
	})
	return out, err
}

func (s *Session) scoreSeries(ctx context.Context, req SeriesRequest) (Scored, error) {
	ser, err := s.series(ctx, req)
	out := Scored{Analysed: len(ser.Obs)}
	if err != nil {
		return out, err
	}
	seen := make(map[string]bool, len(ser.Obs))
	var archs []model.Arch
	var keys []string
	for _, o := range ser.Obs {
		if key := o.Name(); !seen[key] {
			seen[key] = true
			archs, keys = append(archs, o.Arch), append(keys, key)
			out.Archs = append(out.Archs, ScoredArch{Arch: key, Latency: o.Value})
		}
	}
	vals, err := s.acc.scoreKeyed(ctx, archs, keys)
	if err != nil {
		return out, fmt.Errorf("scoring the archs of %s with %s: %w", req.Device, s.acc.name, err)
	}
	for i := range out.Archs {
		out.Archs[i].Score = vals[i]
	}
	ser.Obs = nil
	out.Series = ser
	return out, nil
}
