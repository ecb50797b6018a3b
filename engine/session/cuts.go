package session

import (
	"context"
	"fmt"
	"os"
	"sync"

	"blockprof/engine/cuts"
	"blockprof/engine/store"
	"blockprof/model"
)

// cutState is the space's current cuts, kept in the store so that they
// survive quitting.
type cutState struct {
	mu sync.Mutex
	c  cuts.Cuts
}

func loadCuts(ctx context.Context, st *store.Store, sp *model.Space) (*cutState, error) {
	data, _, ok, err := st.Cuts(ctx, sp.Name)
	if err != nil {
		return nil, err
	}
	if !ok {
		return &cutState{c: cuts.New(sp)}, nil
	}
	c, err := cuts.Unmarshal(sp, data)
	if err != nil {
		return nil, fmt.Errorf("store %s: the saved cuts of %s: %w (clear them with `blockprof cuts --clear`)", st.Path(), sp.Name, err)
	}
	return &cutState{c: c}, nil
}

// Cuts are the space's current cuts (the explorer's pruned cells and depth
// ranges), as last saved.
func (s *Session) Cuts() cuts.Cuts {
	s.cuts.mu.Lock()
	defer s.cuts.mu.Unlock()
	return s.cuts.c
}

// SetCuts replaces the current cuts and saves them in the store.
func (s *Session) SetCuts(ctx context.Context, c cuts.Cuts) error {
	if c.Space() == nil || c.Space().Name != s.sp.Name {
		return fmt.Errorf("cuts of space %s do not fit %s", c.Parent(), s.sp.Name)
	}
	s.cuts.mu.Lock()
	defer s.cuts.mu.Unlock()
	if err := s.st.PutCuts(ctx, s.sp.Name, c.Marshal()); err != nil {
		return err
	}
	s.cuts.c = c
	return nil
}

// ReadReduced reads a reduced-space TOML file (an export of the explorer,
// `analyze --reduced-out` or spaces/*.toml) as cuts of the session's space.
func (s *Session) ReadReduced(path string) (cuts.Cuts, model.Reduction, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return cuts.Cuts{}, model.Reduction{}, err
	}
	r, err := model.ParseReduction(data, path, s.cfg.Spaces)
	if err != nil {
		return cuts.Cuts{}, r, err
	}
	c, err := cuts.Parse(s.sp, s.cfg.Spaces, data, path)
	if err != nil {
		return cuts.Cuts{}, r, fmt.Errorf("the reduced space does not fit space %s: %w", s.sp.Name, err)
	}
	c = c.WithOrigin("loaded from " + path)
	return c, r, nil
}

// LoadReduced reads a reduced space and makes it the current cuts.
func (s *Session) LoadReduced(ctx context.Context, path string) (cuts.Cuts, error) {
	c, _, err := s.ReadReduced(path)
	if err != nil {
		return c, err
	}
	return c, s.SetCuts(ctx, c)
}
