package plot

import (
	"iter"
	"math"
	"strconv"
)

// maxAbs bounds the coordinates that are drawn, so that spans, margins and
// tick steps stay finite.
const maxAbs = 1e300

// maxTicks bounds the ticks of one candidate set.
const maxTicks = 1000

// scale maps one axis from data to cells. Linear axes work on the values,
// log axes on their base-10 logarithms ("transformed" values below).
type scale struct {
	log        bool
	fixed      bool
	lo, hi     float64 // transformed range, lo < hi once finished
	dmin, dmax float64 // transformed data extent
}

func newScale(log bool, r Range) *scale {
	s := &scale{log: log, dmin: math.Inf(1), dmax: math.Inf(-1)}
	if r.fixed(log) && math.Abs(r.Min) <= maxAbs && math.Abs(r.Max) <= maxAbs {
		s.fixed, s.lo, s.hi = true, s.t(r.Min), s.t(r.Max)
	}
	return s
}

// t transforms a value.
func (s *scale) t(v float64) float64 {
	if s.log {
		return math.Log10(v)
	}
	return v
}

// ok reports whether v can be drawn on this axis.
func (s *scale) ok(v float64) bool {
	return !math.IsNaN(v) && math.Abs(v) <= maxAbs && (!s.log || v > 0)
}

// add extends the data extent by v (which must be ok).
func (s *scale) add(v float64) {
	t := s.t(v)
	s.dmin, s.dmax = min(s.dmin, t), max(s.dmax, t)
}

// finish sets the automatic range: the data extent padded by margin×span on
// each side; a zero span gets a fixed width around the value and no data
// gives [0, 1] (log: [1, 10]).
func (s *scale) finish(margin float64) {
	if s.fixed {
		return
	}
	if s.dmin > s.dmax {
		s.lo, s.hi = 0, 1
		return
	}
	span := s.dmax - s.dmin
	if span == 0 {
		d := 0.5
		if !s.log {
			d = math.Abs(s.dmin) * 0.1
			if d == 0 {
				d = 1
			}
		}
		s.lo, s.hi = s.dmin-d, s.dmax+d
		return
	}
	s.lo, s.hi = s.dmin-span*margin, s.dmax+span*margin
}

// frac is the position of v along the axis, 0 at lo and 1 at hi; ok is false
// outside the range.
func (s *scale) frac(v float64) (float64, bool) {
	f := (s.t(v) - s.lo) / (s.hi - s.lo)
	const eps = 1e-9
	if !(f >= -eps && f <= 1+eps) {
		return 0, false
	}
	return min(max(f, 0), 1), true
}

// cell is the index of v among n columns counted from lo, or -1 outside.
func (s *scale) cell(v float64, n int) int {
	f, ok := s.frac(v)
	if !ok {
		return -1
	}
	return min(int(f*float64(n)), n-1)
}

// cellTop is the index of v among n rows counted from hi (the top), or -1.
func (s *scale) cellTop(v float64, n int) int {
	f, ok := s.frac(v)
	if !ok {
		return -1
	}
	return min(int((1-f)*float64(n)), n-1)
}

// tick is one labelled value on an axis.
type tick struct {
	v     float64
	label string
}

// ticks picks, from the densest candidate set down, the first set of ticks
// that fit; if none does, the sparsest non-empty one. n is the axis length
// in cells. A log axis spanning too little for two 1..9×10^k ticks gets
// linear ticks.
func (s *scale) ticks(n int, fit func([]tick) bool) []tick {
	if s.log {
		ts := pick(s.logCandidates(), fit)
		if len(ts) < 2 {
			if lin := pick(s.linearCandidates(math.Pow(10, s.lo), math.Pow(10, s.hi), n), fit); len(lin) > len(ts) {
				return lin
			}
		}
		return ts
	}
	return pick(s.linearCandidates(s.lo, s.hi, n), fit)
}

func pick(cands iter.Seq[[]tick], fit func([]tick) bool) []tick {
	var last []tick
	for ts := range cands {
		if len(ts) == 0 {
			if last != nil {
				break
			}
			continue
		}
		if fit(ts) {
			return ts
		}
		last = ts
	}
	return last
}

// linearCandidates yields tick sets at multiples of 1, 2 or 5×10^k of the
// values from lo to hi, from dense to sparse.
func (s *scale) linearCandidates(lo, hi float64, n int) iter.Seq[[]tick] {
	return func(yield func([]tick) bool) {
		m, e := niceStep((hi - lo) / float64(max(n, 2)))
		for range 40 {
			step := float64(m) * math.Pow10(e)
			k0, k1 := math.Ceil(lo/step-1e-9), math.Floor(hi/step+1e-9)
			if count := k1 - k0 + 1; count <= maxTicks {
				var ts []tick
				maxv := math.Max(math.Abs(k0*step), math.Abs(k1*step))
				// Count from k0 rather than step k: beyond 2^53, k++ is a no-op.
				for i := range int(count) {
					v := (k0 + float64(i)) * step
					if v == 0 {
						v = 0 // no "-0"
					}
					if _, ok := s.frac(v); ok {
						ts = append(ts, tick{v, formatTick(v, e, maxv)})
					}
				}
				if !yield(ts) || count <= 1 {
					return
				}
			}
			m, e = nextStep(m, e)
		}
	}
}

// niceStep rounds raw up to m×10^e with m in {1, 2, 5}.
func niceStep(raw float64) (m, e int) {
	if !(raw > 0) || math.IsInf(raw, 0) {
		return 1, 0
	}
	e = int(math.Floor(math.Log10(raw)))
	switch norm := raw / math.Pow10(e); {
	case norm <= 1:
		return 1, e
	case norm <= 2:
		return 2, e
	case norm <= 5:
		return 5, e
	default:
		return 1, e + 1
	}
}

// nextStep is the next nice step after m×10^e.
func nextStep(m, e int) (int, int) {
	switch m {
	case 1:
		return 2, e
	case 2:
		return 5, e
	default:
		return 1, e + 1
	}
}

// formatTick formats a linear tick with the decimals its step needs; very
// large or very fine values use an exponent.
func formatTick(v float64, e int, maxv float64) string {
	if e < -8 || maxv >= 1e9 {
		sig := 1
		if maxv > 0 {
			sig = int(math.Floor(math.Log10(maxv))) - e + 1
		}
		return strconv.FormatFloat(v, 'e', min(max(sig-1, 0), 16), 64)
	}
	return strconv.FormatFloat(v, 'f', max(0, -e), 64)
}

// logCandidates yields tick sets of a log axis: mantissas 1..9, then 1, 2,
// 3 and 5, then 1, 2 and 5, then 1 and 3, then powers of ten every 1, 2, 5, 10… decades.
func (s *scale) logCandidates() iter.Seq[[]tick] {
	return func(yield func([]tick) bool) {
		e0, e1 := int(math.Floor(s.lo)), int(math.Ceil(s.hi))
		plain := e0 >= -4 && e1 <= 6 // else every label uses an exponent
		gen := func(mants []int, stride int) bool {
			if (e1-e0+1)*len(mants)/stride > maxTicks {
				return true
			}
			var ts []tick
			for e := e0; e <= e1; e++ {
				if e%stride != 0 {
					continue
				}
				for _, m := range mants {
					v := pow10(m, e)
					if _, ok := s.frac(v); ok {
						ts = append(ts, tick{v, formatLog(m, e, plain)})
					}
				}
			}
			return yield(ts)
		}
		if !gen([]int{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1) || !gen([]int{1, 2, 3, 5}, 1) || !gen([]int{1, 2, 5}, 1) || !gen([]int{1, 3}, 1) {
			return
		}
		for m, e := 1, 0; e < 4; m, e = nextStep(m, e) {
			if !gen([]int{1}, m*int(math.Pow10(e))) {
				return
			}
		}
	}
}

// pow10 is m×10^e, correctly rounded.
func pow10(m, e int) float64 {
	if e < 0 {
		return float64(m) / math.Pow10(-e)
	}
	return float64(m) * math.Pow10(e)
}

// formatLog formats m×10^e as plain digits ("0.02", "5000") or with an
// exponent ("2e-5", "5e7").
func formatLog(m, e int, plain bool) string {
	if plain {
		return strconv.FormatFloat(pow10(m, e), 'f', -1, 64)
	}
	return strconv.Itoa(m) + "e" + strconv.Itoa(e)
}

// formatValue formats a data value with about four significant digits.
func formatValue(v float64) string {
	a := math.Abs(v)
	if a == 0 {
		return "0"
	}
	if a >= 1e-3 && a < 1e7 {
		d := 3 - int(math.Floor(math.Log10(a)))
		return strconv.FormatFloat(v, 'f', max(d, 0), 64)
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// minRowGap is the least number of rows between two y ticks.
func minRowGap(plotH int) int {
	switch {
	case plotH < 4:
		return 1
	case plotH < 10:
		return 2
	case plotH < 24:
		return 3
	default:
		return 4
	}
}

// rowsFit reports whether y ticks are at least minRowGap rows apart.
func rowsFit(ts []tick, s *scale, plotH int) bool {
	gap := minRowGap(plotH)
	prev := -1
	for _, t := range ts { // ascending values, so descending rows
		r := s.cellTop(t.v, plotH)
		if prev >= 0 && prev-r < gap {
			return false
		}
		prev = r
	}
	return true
}

// labelStart is the first column of an x tick label: centred on its tick,
// kept inside the line.
func labelStart(t tick, s *scale, plotW, gutter, w int) int {
	start := gutter + s.cell(t.v, plotW) - (len(t.label)-1)/2
	return max(0, min(start, w-len(t.label)))
}

// colsFit reports whether all x tick labels fit with room between them.
func colsFit(ts []tick, s *scale, plotW, gutter, w int) bool {
	const minGap, minSpacing = 3, 8
	end, col := math.MinInt/2, math.MinInt/2
	for _, t := range ts {
		if len(t.label) > w {
			return false
		}
		c := s.cell(t.v, plotW)
		start := labelStart(t, s, plotW, gutter, w)
		if start < end+minGap || c-col < minSpacing {
			return false
		}
		end, col = start+len(t.label), c
	}
	return true
}
