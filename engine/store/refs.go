package store

import (
	"context"
	"fmt"
)

// PlanRef is a plan item as the analysis needs it: the canonical arch, its
// resolution and its plan role ("" uniform, "u2.l3=e6k7" fixed).
type PlanRef struct {
	Canonical  string
	Resolution int
	Fix        string
}

// PlanRefs lists the distinct (arch, role) plan items of every run of
// space, in the order they were first planned, without decoding the archs'
// OFA encodings (a 100k-item plan costs a few MB, not a hundred).
func (s *Store) PlanRefs(ctx context.Context, space string) ([]PlanRef, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.canonical, a.resolution, COALESCE(p.fix, ''), MIN(p.run * 4294967296 + p.idx) AS first
		FROM plan_items p JOIN archs a ON a.id = p.arch JOIN runs r ON r.id = p.run
		WHERE r.space = ? GROUP BY a.id, COALESCE(p.fix, '') ORDER BY first`, space)
	if err != nil {
		return nil, fmt.Errorf("store %s: plans of %s: %w", s.path, space, err)
	}
	defer rows.Close()
	var out []PlanRef
	for rows.Next() {
		var r PlanRef
		var first int64
		if err := rows.Scan(&r.Canonical, &r.Resolution, &r.Fix, &first); err != nil {
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

// AccuracyValues maps the canonical archs of space to their stored
// accuracy from source, without decoding the archs.
func (s *Store) AccuracyValues(ctx context.Context, space, source string) (map[string]AccuracyValue, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT a.canonical, c.top1, c.provenance FROM accuracy c JOIN archs a ON a.id = c.arch
		WHERE a.space = ? AND c.source = ?`, space, source)
	if err != nil {
		return nil, fmt.Errorf("store %s: accuracies: %w", s.path, err)
	}
	defer rows.Close()
	out := map[string]AccuracyValue{}
	for rows.Next() {
		var c string
		var v AccuracyValue
		if err := rows.Scan(&c, &v.Top1, &v.Label); err != nil {
			return nil, fmt.Errorf("store %s: accuracies: %w", s.path, err)
		}
		out[c] = v
	}
	return out, rows.Err()
}
