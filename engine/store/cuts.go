package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// PutCuts keeps reduction as the current cuts of space (the explorer's
// reduced space, in the front end's text encoding), replacing what was
// kept, so that they survive quitting. An empty reduction is refused:
// DeleteCuts forgets a space's cuts.
func (s *Store) PutCuts(ctx context.Context, space string, reduction []byte) error {
	if space == "" {
		return errors.New("store: cuts without a space")
	}
	if len(reduction) == 0 {
		return fmt.Errorf("store: empty cuts for space %s (DeleteCuts forgets a space's cuts)", space)
	}
	if !utf8.Valid(reduction) {
		return fmt.Errorf("store: cuts for space %s are not UTF-8 text (store their text encoding, e.g. TOML or JSON)", space)
	}
	return s.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO cuts(space, reduction, updated) VALUES (?, ?, ?)
			ON CONFLICT(space) DO UPDATE SET reduction = excluded.reduction, updated = excluded.updated`,
			space, string(reduction), fmtTime(time.Now()))
		if err != nil {
			return fmt.Errorf("store %s: cuts of space %s: %w", s.path, space, err)
		}
		return nil
	})
}

// Cuts returns the cuts kept for space and when they were kept; ok is
// false when none are.
func (s *Store) Cuts(ctx context.Context, space string) (reduction []byte, updated time.Time, ok bool, err error) {
	var text, at string
	err = s.db.QueryRowContext(ctx, `SELECT reduction, updated FROM cuts WHERE space = ?`, space).Scan(&text, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, time.Time{}, false, nil
	}
	if err != nil {
		return nil, time.Time{}, false, fmt.Errorf("store %s: cuts of space %s: %w", s.path, space, err)
	}
	return []byte(text), parseTime(at), true, nil
}

// DeleteCuts forgets the cuts kept for space (none kept is no error).
func (s *Store) DeleteCuts(ctx context.Context, space string) error {
	return s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM cuts WHERE space = ?`, space); err != nil {
			return fmt.Errorf("store %s: cuts of space %s: %w", s.path, space, err)
		}
		return nil
	})
}
