package app

import (
	"context"
	"strconv"
	"strings"

	"blockprof/engine/compare"
	"blockprof/engine/pareto"
	"blockprof/engine/session"
	compareview "blockprof/tui/compare"
)

// Compare compares devices through the session (their effects, shared
// archs and the cuts that hold on all), the score being the space's
// accuracy source, and translates the result for the devices-side-by-side
// view.
func (a *App) Compare(ctx context.Context, devices []string) (compareview.Data, error) {
	c, err := a.s.Compare(ctx, session.CompareRequest{Devices: devices}, a.s.AnalysisOptions())
	if err != nil {
		return compareview.Data{}, err
	}
	return compareData(c), nil
}

func compareData(c *session.DeviceComparison) compareview.Data {
	d := compareview.Data{Normalisation: c.Normalisation, ScoreName: accuracyTitle(c.QualityMetric), ScoreLabel: c.QualityLabel}
	for i, dev := range c.Devices {
		d.Devices, d.Labels = append(d.Devices, dev.Name), append(d.Labels, dev.Label)
		weak := ""
		if ev := c.Latency[i].Evidence; ev.Weak {
			weak = strings.Join(ev.Why, "; ")
		}
		d.Weak = append(d.Weak, weak)
	}
	rows := func(cells []compare.Cell, depth bool) {
		for _, cl := range cells {
			r := compareview.Row{Unit: cl.Unit, What: cl.Block, Differ: cl.Pairs, NoInterval: cl.Verdict == compare.Unknown, SameSign: cl.SameSign}
			if depth {
				r.What = "depth " + strconv.Itoa(cl.Depth)
			}
			for _, s := range cl.Sides {
				r.Sides = append(r.Sides, compareview.Side{Rel: s.Rel, Lo: s.Lo, Hi: s.Hi})
			}
			d.Rows = append(d.Rows, r)
			d.Units = max(d.Units, cl.Unit)
		}
	}
	rows(c.Blocks, false)
	rows(c.Depths, true)
	for _, p := range c.Pairs {
		d.Pairs = append(d.Pairs, compareview.Pair{A: p.A, B: p.B, Archs: p.Archs, Latency: p.Latency, Blocks: p.BlockEffect, Depths: p.DepthEffect})
	}
	var pts []pareto.Point
	for _, p := range c.Points {
		v := compareview.Point{Arch: p.Arch, Latency: p.Latency, Worst: p.Worst}
		if p.Quality != nil {
			v.Score, v.HasScore = *p.Quality, true
			pts = append(pts, pareto.Point{Latency: p.Worst, Accuracy: v.Score, ID: len(d.Points)})
		}
		d.Points = append(d.Points, v)
	}
	for _, p := range pareto.Front(pts) {
		d.Front = append(d.Front, p.ID)
	}
	d.Common, _ = c.Common.Counts()
	for _, s := range c.PerDevice {
		n, _ := s.Cuts.Counts()
		d.PerDevice = append(d.PerDevice, n)
	}
	return d
}
