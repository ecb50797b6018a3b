package session

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"blockprof/engine/accuracy"
	"blockprof/engine/store"
	"blockprof/model"
)

// scorer is the space's accuracy source with the store behind it: a score
// the store holds for the source is read back (with its provenance), a
// new one is computed and, when asked, stored, so a user's evaluator
// (minutes per arch) runs once per arch across sessions.
type scorer struct {
	src  accuracy.Source
	sp   *model.Space
	st   *store.Store
	name string // the store's source key, e.g. "table:ofa-mbv3-w1.0-imagenet-top1.jsonl"
	// expensive sources (a command) store every score, not only plan
	// archs'.
	expensive bool

	mu    sync.Mutex
	cache map[string]accuracy.Value
}

func newScorer(src accuracy.Source, sp *model.Space, st *store.Store, name string) *scorer {
	_, cmd := src.(*accuracy.CommandSource)
	return &scorer{src: src, sp: sp, st: st, name: name, expensive: cmd, cache: map[string]accuracy.Value{}}
}

// accuracySourceName keys a configured source in the store: its kind and
// the file or the evaluator's program.
func accuracySourceName(ref model.AccuracyRef) string {
	kind := strings.ToLower(ref.Kind)
	if kind == "" {
		kind = accuracy.KindProxy
	}
	switch {
	case ref.File != "":
		return kind + ":" + filepath.Base(ref.File)
	case len(ref.Command) > 0:
		return kind + ":" + filepath.Base(ref.Command[len(ref.Command)-1])
	}
	return kind
}

// cached is the score this session already has for key.
func (s *scorer) cached(key string) (accuracy.Value, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.cache[key]
	return v, ok
}

// maxScores bounds the scores a session keeps in memory: past it, the
// cache starts over, so that a long-lived session (the explorer, served to
// a team) does not grow with every search it runs. A score it drops is
// computed again, or read back from the store (an expensive source's
// always are).
const maxScores = 2 * MaxObs

func (s *scorer) remember(key string, v accuracy.Value) {
	s.mu.Lock()
	if s.cache == nil || len(s.cache) >= maxScores {
		s.cache = map[string]accuracy.Value{}
	}
	s.cache[key] = v
	s.mu.Unlock()
}

// stored is a score read back from the store, with its provenance.
func (s *scorer) stored(top1 float64, provenance string) accuracy.Value {
	return accuracy.Value{Top1: top1, Provenance: provenance, Label: provenance + ", stored", Source: s.name}
}

// evaluate asks the source; a score without a provenance is an error.
func (s *scorer) evaluate(ctx context.Context, a model.Arch) (accuracy.Value, error) {
	v, err := s.src.Top1(ctx, a)
	if err != nil {
		return accuracy.Value{}, err
	}
	if v.Provenance == "" {
		return accuracy.Value{}, fmt.Errorf("accuracy source %s gave no provenance for %s", s.name, a)
	}
	return v, nil
}

// record is a new score as the store keeps it.
func (s *scorer) record(a model.Arch, v accuracy.Value) (store.Accuracy, error) {
	sa, err := store.ArchOf(s.sp, a)
	if err != nil {
		return store.Accuracy{}, err
	}
	return store.Accuracy{Arch: sa, Source: s.name, Top1: v.Top1, Label: v.Provenance}, nil
}

// Score is the arch's accuracy (or proxy score). keep stores a newly
// computed score (plan archs); scores of an expensive source are always
// stored.
func (s *scorer) Score(ctx context.Context, a model.Arch, keep bool) (accuracy.Value, error) {
	key := a.String()
	if v, ok := s.cached(key); ok {
		return v, nil
	}
	rec, ok, err := s.st.AccuracyOf(ctx, key, s.name)
	if err != nil {
		return accuracy.Value{}, err
	}
	var v accuracy.Value
	if ok {
		v = s.stored(rec.Top1, rec.Label)
	} else {
		if v, err = s.evaluate(ctx, a); err != nil {
			return accuracy.Value{}, err
		}
		if keep || s.expensive {
			r, err := s.record(a, v)
			if err != nil {
				return accuracy.Value{}, err
			}
			if err := s.st.PutAccuracy(ctx, r); err != nil {
				return accuracy.Value{}, err
			}
		}
	}
	s.remember(key, v)
	return v, nil
}

// accuracyBatch is how many new scores are stored in one transaction.
const accuracyBatch = 2000

// ScoreMany scores archs (plan archs: every new score is stored), reading
// the stored scores of the archs its cache lacks in one query and storing
// the new ones in transactions of accuracyBatch: a plan of 20k archs costs
// a few fsyncs, not 20k.
func (s *scorer) ScoreMany(ctx context.Context, archs []model.Arch) ([]accuracy.Value, error) {
	return s.scoreKeyed(ctx, archs, nil)
}

// scoreKeyed is ScoreMany with the archs' canonical strings at hand
// (keys[i] is archs[i].String(); nil or "": computed here). The scores it
// remembers are keyed by those strings, shared with the caller's instead
// of 20,000 copies for a series.
func (s *scorer) scoreKeyed(ctx context.Context, archs []model.Arch, keys []string) ([]accuracy.Value, error) {
	out := make([]accuracy.Value, len(archs))
	// The cache is read once, before anything is remembered: the scores
	// remembered below may start it over, and an arch it held must not be
	// evaluated again for want of a stored score that was never read.
	if keys == nil {
		keys = make([]string, len(archs))
	} else if len(keys) != len(archs) {
		return nil, fmt.Errorf("scoring %d archs with %d keys", len(archs), len(keys))
	}
	hit := make([]bool, len(archs))
	var ask []string
	for i, a := range archs {
		if keys[i] == "" {
			keys[i] = a.String()
		}
		if out[i], hit[i] = s.cached(keys[i]); !hit[i] {
			ask = append(ask, keys[i])
		}
	}
	// Only the scores of the archs not in the cache are read back.
	have, err := s.st.AccuracyValues(ctx, s.sp.Name, s.name, ask)
	if err != nil {
		return nil, err
	}
	var fresh []store.Accuracy
	for i, a := range archs {
		if hit[i] {
			continue
		}
		key := keys[i]
		if v, ok := s.cached(key); ok { // an arch given twice
			out[i] = v
			continue
		}
		var v accuracy.Value
		if rec, ok := have[key]; ok {
			v = s.stored(rec.Top1, rec.Label)
		} else {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if v, err = s.evaluate(ctx, a); err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			r, err := s.record(a, v)
			if err != nil {
				return nil, err
			}
			fresh = append(fresh, r)
			if len(fresh) == accuracyBatch { // bounded memory, few fsyncs
				if err := s.st.PutAccuracy(ctx, fresh...); err != nil {
					return nil, err
				}
				fresh = fresh[:0]
			}
		}
		s.remember(key, v)
		out[i] = v
	}
	if len(fresh) > 0 {
		if err := s.st.PutAccuracy(ctx, fresh...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Close releases the source (an evaluator process).
func (s *scorer) Close() error {
	if c, ok := s.src.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// AccuracyKind says what the session's accuracy numbers are: "proxy" for
// the proxy score, else "accuracy"; with the provenance of the source's
// numbers (from one score of the space's smallest arch, not stored).
func (s *Session) AccuracyKind(ctx context.Context) (metric, provenance string, err error) {
	v, err := s.acc.Score(ctx, s.sp.MinArch(s.spec.Resolution), false)
	if err != nil {
		if errors.Is(err, accuracy.ErrNotFound) {
			return MetricAccuracy, accuracy.Table, nil
		}
		return "", "", fmt.Errorf("accuracy source %s: %w", s.acc.name, err)
	}
	if v.IsProxy() {
		return "proxy", v.Provenance, nil
	}
	return MetricAccuracy, v.Provenance, nil
}

// Score is the arch's accuracy from the session's source (stored for
// later sessions when the arch is in a plan or the source is expensive).
func (s *Session) Score(ctx context.Context, a model.Arch) (accuracy.Value, error) {
	return s.acc.Score(ctx, a, false)
}

// ScoreMany scores archs (stored scores first; new scores of plan archs
// are stored in one transaction).
func (s *Session) ScoreMany(ctx context.Context, archs []model.Arch) ([]accuracy.Value, error) {
	return s.acc.ScoreMany(ctx, archs)
}

// AccuracySource names the session's accuracy source in the store.
func (s *Session) AccuracySource() string { return s.acc.name }

// AccuracySource scores archs (engine/accuracy); Options.Accuracy takes one.
type AccuracySource = accuracy.Source
