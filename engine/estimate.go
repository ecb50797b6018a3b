package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"blockprof/engine/store"
)

// Estimate is the expected duration of a device's share of a run.
type Estimate struct {
	Device string
	// Pending plan archs, and the reference measurements they bring.
	Pending    int
	References int
	// PerArch is the expected time of one arch at the plan's mean MACs;
	// Total the device's expected time.
	PerArch time.Duration
	Total   time.Duration
	// Basis says where the figures come from: "history (N measurements)"
	// or "timed 2 archs (smallest and largest)".
	Basis string
	// Local says the device shares this machine's cores: local devices
	// take turns, so their totals add up.
	Local bool
	Err   error
}

// PlanEstimate is a run's expected duration: the local devices' totals
// add up (they take turns on this machine), the others run alongside.
type PlanEstimate struct {
	Devices []Estimate
	Total   time.Duration
}

// minHistory is how many stored measurements of a device suffice to
// estimate without timing anything.
const minHistory = 5

// Estimate predicts how long the run will take, before Start. A device
// with at least a few stored measurements in this space under its current
// fingerprint is estimated from them (wall time against MACs, least
// squares); otherwise Estimate times the smallest and the largest of its
// pending archs (real measurements, stored and not measured again). In
// both cases the time of every pending arch is a + b·MACs.
func (r *Run) Estimate(ctx context.Context) (PlanEstimate, error) {
	r.mu.Lock()
	started := r.started
	r.mu.Unlock()
	if started {
		return PlanEstimate{}, errors.New("engine: Estimate must come before Start")
	}
	out := PlanEstimate{Devices: make([]Estimate, len(r.workers))}
	var wg sync.WaitGroup
	for i, w := range r.workers {
		wg.Go(func() { out.Devices[i] = w.estimate(ctx) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return out, err
	}
	var local time.Duration
	for _, e := range out.Devices {
		if e.Local {
			local += e.Total
		} else {
			out.Total = max(out.Total, e.Total)
		}
	}
	out.Total = max(out.Total, local)
	return out, nil
}

// line is wall = a + b·MACs in seconds.
type line struct{ a, b float64 }

func (l line) at(macs int64) float64 { return max(l.a+l.b*float64(macs), 0) }

// fit is least squares over (MACs, seconds), falling back to a
// proportional or a constant model when the points cannot carry a line.
func fit(xs []int64, ys []float64) line {
	n := float64(len(xs))
	if n == 0 {
		return line{}
	}
	var sx, sy, sxx, sxy float64
	for i, x := range xs {
		fx := float64(x)
		sx += fx
		sy += ys[i]
		sxx += fx * fx
		sxy += fx * ys[i]
	}
	mx, my := sx/n, sy/n
	vx := sxx/n - mx*mx
	if vx <= 0 || mx <= 0 {
		return line{a: my}
	}
	b := (sxy/n - mx*my) / vx
	a := my - b*mx
	if b < 0 || a < 0 {
		// Noise or a dominant fixed cost: keep the mean per MAC.
		return line{b: my / mx}
	}
	return line{a: a, b: b}
}

func (w *worker) estimate(ctx context.Context) Estimate {
	e := Estimate{Device: w.name, Local: w.info.Local}
	if w.started.IsZero() {
		w.started = time.Now()
	}
	var todo []*item
	for i := range w.pending {
		if !w.done[w.pending[i].canon] {
			todo = append(todo, &w.pending[i])
		}
	}
	e.Pending = len(todo)
	if k := w.r.referenceEvery(w); k > 0 && len(todo) > 0 {
		e.References = 1 + (len(todo)-1)/k
	}
	if len(todo) == 0 {
		e.Basis = "nothing to measure"
		return e
	}
	// History: wall time of this device's stored measurements in the space,
	// taken under its current fingerprint.
	var xs []int64
	var ys []float64
	for rec, err := range w.r.store.Records(ctx, store.Query{Device: w.name, Space: w.r.space.Name, Fingerprint: w.fp}) {
		if err != nil {
			e.Err = err
			return e
		}
		if d := rec.Finished.Sub(rec.Started).Seconds(); d > 0 {
			xs, ys = append(xs, rec.MACs), append(ys, d)
		}
	}
	if len(xs) >= minHistory {
		e.Basis = fmt.Sprintf("history (%d measurements)", len(xs))
	} else {
		// Time the smallest and the largest pending arch.
		slices.SortStableFunc(todo, func(a, b *item) int { return int(min(max(a.macs-b.macs, -1), 1)) })
		picks := []*item{todo[0]}
		if len(todo) > 1 {
			picks = append(picks, todo[len(todo)-1])
		}
		xs, ys = nil, nil
		for _, it := range picks {
			t0 := w.r.opts.Now()
			if !w.measure(ctx, it, store.KindPlan) {
				if ctx.Err() != nil {
					e.Err = ctx.Err()
				} else {
					e.Err = fmt.Errorf("device %s: timing %s: %s", w.name, it.canon, w.lastErr)
				}
				return e
			}
			xs, ys = append(xs, it.macs), append(ys, w.r.opts.Now().Sub(t0).Seconds())
		}
		e.Basis = fmt.Sprintf("timed %d archs (smallest and largest)", len(picks))
		todo = todo[1 : len(todo)-len(picks)+1]
		e.Pending = len(todo)
	}
	l := fit(xs, ys)
	var total, macs float64
	for _, it := range todo {
		total += l.at(it.macs)
		macs += float64(it.macs)
	}
	total += float64(e.References) * l.at(w.r.ref.macs)
	e.Total = seconds(total)
	if len(todo) > 0 {
		e.PerArch = seconds(l.at(int64(macs / float64(len(todo)))))
		w.estPerArch = e.PerArch
	}
	return e
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
