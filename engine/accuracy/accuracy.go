// Package accuracy says how accurate an architecture is, and where that
// number comes from. A space's [spaces.NAME] accuracy table picks one
// source (model.AccuracyRef):
//
//   - table: a file of (arch, top-1) records, JSON lines as in
//     ../shared/data/ofa-mbv3-w1.0-imagenet-top1.jsonl or the DyNAS-T CSV
//     layout; archs are looked up by their canonical string.
//   - predictor: the accuracy predictor of package predict fitted on such a
//     table, scoring the archs the table lacks (labelled predicted).
//   - command: the user's evaluator, run once per arch: it reads
//     {"arch": OFA, "canonical": "..."} on stdin and prints {"top1": 77.4}.
//   - proxy (the default): a training-free score computed from the network
//     (see Proxy). It is not an accuracy and is labelled proxy everywhere:
//     Value's JSON names it "proxy_score", never "top1" or "accuracy".
package accuracy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"blockprof/engine/predict"
	"blockprof/model"
)

// Provenances of a Value (the same strings as the store's accuracy labels).
const (
	// Measured: evaluated on a validation set by the user's evaluator.
	Measured = "measured"
	// Table: read from a table of evaluated archs.
	Table = "table"
	// Predicted: estimated by a fitted accuracy predictor.
	Predicted = "predicted"
	// Proxy: a stand-in score computed from the network, not an accuracy.
	Proxy = "proxy"
)

// Kinds of source (model.AccuracyRef.Kind).
const (
	KindTable     = "table"
	KindPredictor = "predictor"
	KindCommand   = "command"
	KindProxy     = "proxy"
)

// Kinds lists the source kinds.
func Kinds() []string { return []string{KindProxy, KindTable, KindPredictor, KindCommand} }

// Value is one architecture's accuracy from one source.
type Value struct {
	// Top1 is the ImageNet top-1 in percent, or the proxy score when
	// Provenance is Proxy (see Field).
	Top1 float64
	// Provenance is Measured, Table, Predicted or Proxy.
	Provenance string
	// Label is the text shown beside the number, e.g.
	// "measured (ImageNet top-1, table)", "predicted", "proxy".
	Label string
	// Source names where it came from: a file name, "proxy:macs-params-depth",
	// "command:evaluate.py", "predictor:top1-ridge".
	Source string
}

// IsProxy reports whether the value is a proxy score rather than an
// accuracy.
func (v Value) IsProxy() bool { return v.Provenance == Proxy }

// Field is the name to print the value under: "proxy_score" for proxies,
// "top1" for every real or predicted accuracy.
func (v Value) Field() string {
	if v.IsProxy() {
		return "proxy_score"
	}
	return "top1"
}

// MarshalJSON writes {"top1": 77.4, ...} or {"proxy_score": 74.1, ...}
// with the provenance, label and source.
func (v Value) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		v.Field():    v.Top1,
		"provenance": v.Provenance,
		"label":      v.Label,
		"source":     v.Source,
	})
}

// Source scores architectures. Implementations are safe for concurrent
// use.
type Source interface {
	Top1(ctx context.Context, a model.Arch) (Value, error)
}

// NoteOf is what the user should be told about how src read its data
// (Records.Note of a table or of a predictor's table): empty when there is
// nothing to say.
func NoteOf(src Source) string {
	switch s := src.(type) {
	case *Records:
		return s.Note()
	case *PredictorSource:
		return s.Table().Note()
	}
	return ""
}

// ErrNotFound is returned (wrapped) by a table that lacks the arch.
var ErrNotFound = errors.New("arch not in the accuracy table")

// Open builds the source a space's accuracy table configures. Relative
// file names resolve against baseDir (the config file's directory). An
// empty kind is the proxy. For the predictor, ref.Model optionally names
// the feature set (one of predict.Top1FeatureSets(); empty: chosen by
// cross-validation on the table).
func Open(ref model.AccuracyRef, sp *model.Space, baseDir string) (Source, error) {
	where := fmt.Sprintf("space %s: accuracy", sp.Name)
	path := ref.File
	if path != "" && !filepath.IsAbs(path) {
		path = filepath.Join(baseDir, path)
	}
	needFile := func() error {
		if ref.File == "" {
			return fmt.Errorf("%s: kind %q needs file = \"...\" (JSON lines with arch and top1, or a DyNAS-T CSV)", where, ref.Kind)
		}
		return nil
	}
	switch strings.ToLower(ref.Kind) {
	case "", KindProxy:
		return NewProxy(sp), nil
	case KindTable:
		if err := needFile(); err != nil {
			return nil, err
		}
		t, err := ReadTable(path, sp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return t, nil
	case KindPredictor:
		if err := needFile(); err != nil {
			return nil, err
		}
		t, err := ReadTable(path, sp)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		opts := predict.Top1Options{}
		if ref.Model != "" {
			opts.Features = []string{ref.Model}
		}
		p, err := NewPredictor(t, sp, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		return p, nil
	case KindCommand:
		if len(ref.Command) == 0 {
			return nil, fmt.Errorf("%s: kind \"command\" needs command = [\"python3\", \"eval.py\", ...] (the evaluator's argv)", where)
		}
		return NewCommand(ref.Command, sp, CommandOptions{Dir: baseDir})
	}
	return nil, fmt.Errorf("%s: kind %q: want one of %s", where, ref.Kind, strings.Join(Kinds(), ", "))
}
