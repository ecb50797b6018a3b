package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Accuracy labels: where a top-1 number comes from. Every number the UI
// shows carries one.
const (
	AccuracyMeasured  = "measured"  // evaluated on a validation set
	AccuracyTable     = "table"     // read from a published table
	AccuracyPredicted = "predicted" // from a fitted accuracy predictor
	AccuracyProxy     = "proxy"     // a stand-in score, not an accuracy
)

// Accuracy is one architecture's top-1 accuracy from one source.
type Accuracy struct {
	Arch Arch
	// Source names where it came from, e.g. "ofa-mbv3-w1.0-imagenet-top1"
	// or "predictor:gp".
	Source string
	// Top1 in percent.
	Top1 float64
	// Label is one of AccuracyMeasured, AccuracyTable, AccuracyPredicted,
	// AccuracyProxy.
	Label string
}

func checkLabel(l string) error {
	switch l {
	case AccuracyMeasured, AccuracyTable, AccuracyPredicted, AccuracyProxy:
		return nil
	}
	return fmt.Errorf("store: accuracy label %q: want measured, table, predicted or proxy", l)
}

// PutAccuracy records accuracies in one transaction, replacing an earlier
// value of the same (arch, source).
func (s *Store) PutAccuracy(ctx context.Context, accs ...Accuracy) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		ids, err := newArchIDs(ctx, tx)
		if err != nil {
			return err
		}
		defer ids.Close()
		for _, a := range accs {
			if err := checkLabel(a.Label); err != nil {
				return err
			}
			if a.Source == "" {
				return fmt.Errorf("store: accuracy of %s without a source", a.Arch.Canonical)
			}
			if math.IsNaN(a.Top1) || math.IsInf(a.Top1, 0) {
				return fmt.Errorf("store: accuracy of %s from %s is not finite", a.Arch.Canonical, a.Source)
			}
			id, err := ids.id(ctx, a.Arch)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO accuracy(arch, source, top1, provenance) VALUES (?, ?, ?, ?)
				ON CONFLICT(arch, source) DO UPDATE SET top1 = excluded.top1, provenance = excluded.provenance`,
				id, a.Source, a.Top1, a.Label); err != nil {
				return fmt.Errorf("store: accuracy of %s: %w", a.Arch.Canonical, err)
			}
		}
		return nil
	})
}

const accuracySelect = `SELECT a.canonical, a.space, a.resolution, a.ofa, a.macs, a.params, c.source, c.top1, c.provenance
	FROM accuracy c JOIN archs a ON a.id = c.arch`

func scanAccuracy(sc interface{ Scan(...any) error }) (Accuracy, error) {
	var r Accuracy
	var ofa string
	if err := sc.Scan(&r.Arch.Canonical, &r.Arch.Space, &r.Arch.Resolution, &ofa, &r.Arch.MACs, &r.Arch.Params, &r.Source, &r.Top1, &r.Label); err != nil {
		return Accuracy{}, err
	}
	if err := json.Unmarshal([]byte(ofa), &r.Arch.OFA); err != nil {
		return Accuracy{}, fmt.Errorf("arch %s: bad OFA encoding: %w", r.Arch.Canonical, err)
	}
	return r, nil
}

// AccuracyOf returns the accuracy of arch (canonical) from source.
func (s *Store) AccuracyOf(ctx context.Context, arch, source string) (Accuracy, bool, error) {
	r, err := scanAccuracy(s.db.QueryRowContext(ctx, accuracySelect+` WHERE a.canonical = ? AND c.source = ?`, arch, source))
	if errors.Is(err, sql.ErrNoRows) {
		return Accuracy{}, false, nil
	}
	if err != nil {
		return Accuracy{}, false, fmt.Errorf("store %s: accuracy of %s: %w", s.path, arch, err)
	}
	return r, true, nil
}

// Accuracies lists the accuracies of a space's archs ("" for all spaces)
// from source ("" for all sources).
func (s *Store) Accuracies(ctx context.Context, space, source string) ([]Accuracy, error) {
	rows, err := s.db.QueryContext(ctx, accuracySelect+` WHERE (? = '' OR a.space = ?) AND (? = '' OR c.source = ?) ORDER BY a.id, c.source`,
		space, space, source, source)
	if err != nil {
		return nil, fmt.Errorf("store %s: accuracies: %w", s.path, err)
	}
	defer rows.Close()
	var out []Accuracy
	for rows.Next() {
		r, err := scanAccuracy(rows)
		if err != nil {
			return nil, fmt.Errorf("store %s: %w", s.path, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
