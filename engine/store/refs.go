package store

import (
	"context"
	"fmt"
	"strings"
)

// PlanRef is a plan item as the analysis needs it: the canonical arch, its
// resolution and its plan role ("" uniform, "u2.l3=e6k7" fixed).
type PlanRef struct {
	Canonical  string
	Resolution int
	Fix        string
}

// planItems is the distinct (arch, role) plan items of every run of a
// space (the query's one parameter), with the position each was first
// planned at.
const planItems = `SELECT a.canonical AS canonical, a.resolution AS resolution, COALESCE(p.fix, '') AS fix, MIN(p.run * 4294967296 + p.idx) AS first
	FROM plan_items p JOIN archs a ON a.id = p.arch JOIN runs r ON r.id = p.run
	WHERE r.space = ? GROUP BY a.id, COALESCE(p.fix, '')`

// PlanCount is the number of distinct (arch, role) plan items of a space's
// runs at one resolution.
type PlanCount struct {
	Resolution int
	Items      int
}

// PlanCounts counts the distinct (arch, role) plan items of every run of
// space per resolution, the resolutions in the order first planned.
func (s *Store) PlanCounts(ctx context.Context, space string) ([]PlanCount, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT resolution, COUNT(*), MIN(first) AS f FROM (`+planItems+`) GROUP BY resolution ORDER BY f`, space)
	if err != nil {
		return nil, fmt.Errorf("store %s: plans of %s: %w", s.path, space, err)
	}
	defer rows.Close()
	var out []PlanCount
	for rows.Next() {
		var c PlanCount
		var first int64
		if err := rows.Scan(&c.Resolution, &c.Items, &first); err != nil {
			return nil, fmt.Errorf("store %s: plans of %s: %w", s.path, space, err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// PlanRefs lists the distinct (arch, role) plan items of every run of
// space at resolution res, in the order they were first planned, keeping
// every step-th (the first, the step+1-th, ...; step < 1 keeps all) and
// without decoding the archs' OFA encodings: only the kept items are held,
// so a 100k-item plan subsampled to 20k costs what 20k items cost.
func (s *Store) PlanRefs(ctx context.Context, space string, res, step int) ([]PlanRef, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT canonical, fix FROM (`+planItems+`) WHERE resolution = ? ORDER BY first`, space, res)
	if err != nil {
		return nil, fmt.Errorf("store %s: plans of %s: %w", s.path, space, err)
	}
	defer rows.Close()
	step = max(step, 1)
	var out []PlanRef
	for i := 0; rows.Next(); i++ {
		if i%step != 0 {
			continue
		}
		r := PlanRef{Resolution: res}
		if err := rows.Scan(&r.Canonical, &r.Fix); err != nil {
			return nil, fmt.Errorf("store %s: plans of %s: %w", s.path, space, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// AccuracyValue is a stored accuracy without its arch's description.
type AccuracyValue struct {
	Top1  float64
	Label string
}

// maxLookup is the most archs AccuracyValues looks up by name; past it, it
// reads the space's scores from the source in table order and keeps those
// asked for (20,000 lookups took 2.7 s on a 100k store, the scan 0.2 s).
const maxLookup = 500

// AccuracyValues maps those of the canonical archs of space that have a
// stored accuracy from source to it, without decoding the archs. Only the
// archs asked for are kept, so that scoring a subsample does not hold
// every score of a large store.
func (s *Store) AccuracyValues(ctx context.Context, space, source string, canonicals []string) (map[string]AccuracyValue, error) {
	out := map[string]AccuracyValue{}
	if len(canonicals) == 0 {
		return out, nil
	}
	text := `SELECT a.canonical, c.top1, c.provenance FROM accuracy c JOIN archs a ON a.id = c.arch WHERE a.space = ? AND c.source = ?`
	args := []any{space, source}
	var want map[string]bool
	if len(canonicals) <= maxLookup {
		text += ` AND a.canonical IN (?` + strings.Repeat(", ?", len(canonicals)-1) + `)`
		for _, c := range canonicals {
			args = append(args, c)
		}
	} else {
		want = make(map[string]bool, len(canonicals))
		for _, c := range canonicals {
			want[c] = true
		}
	}
	rows, err := s.db.QueryContext(ctx, text, args...)
	if err != nil {
		return nil, fmt.Errorf("store %s: accuracies: %w", s.path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c string
		var v AccuracyValue
		if err := rows.Scan(&c, &v.Top1, &v.Label); err != nil {
			return nil, fmt.Errorf("store %s: accuracies: %w", s.path, err)
		}
		if want == nil || want[c] {
			out[c] = v
		}
	}
	return out, rows.Err()
}
