package engine

import (
	"slices"
	"time"

	"blockprof/engine/store"
)

// Normalize removes a device's slow drift from its measurements using the
// reference architecture it re-measured every K plan measurements (see
// Options.ReferenceEvery): each record's median is scaled by
// first-reference-median / reference-median-at-that-time, the reference
// median being interpolated linearly in time between the reference
// measurements around the record (held constant before the first and after
// the last). It returns one normalised median per record, in order; with no
// reference measurement the medians are returned unchanged. Normalised
// values are relative to the device's state at its first reference, so they
// compare archs measured minutes apart.
func Normalize(recs, refs []store.Record) []float64 {
	out := make([]float64, len(recs))
	refs = slices.Clone(refs)
	refs = slices.DeleteFunc(refs, func(r store.Record) bool { return r.Median <= 0 })
	slices.SortFunc(refs, func(a, b store.Record) int { return a.Finished.Compare(b.Finished) })
	if len(refs) == 0 {
		for i, r := range recs {
			out[i] = r.Median
		}
		return out
	}
	base := refs[0].Median
	for i, r := range recs {
		out[i] = r.Median * base / refAt(refs, mid(r))
	}
	return out
}

// mid is the middle of a measurement's timed span.
func mid(r store.Record) time.Time {
	if r.Started.IsZero() {
		return r.Finished
	}
	return r.Started.Add(r.Finished.Sub(r.Started) / 2)
}

// refAt interpolates the reference median at t; refs are sorted by time.
func refAt(refs []store.Record, t time.Time) float64 {
	j, _ := slices.BinarySearchFunc(refs, t, func(r store.Record, t time.Time) int { return mid(r).Compare(t) })
	switch {
	case j == 0:
		return refs[0].Median
	case j == len(refs):
		return refs[len(refs)-1].Median
	}
	a, b := refs[j-1], refs[j]
	span := mid(b).Sub(mid(a)).Seconds()
	if span <= 0 {
		return b.Median
	}
	f := t.Sub(mid(a)).Seconds() / span
	return a.Median + f*(b.Median-a.Median)
}
