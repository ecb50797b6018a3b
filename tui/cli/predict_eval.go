package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"blockprof/engine/predict"
	"blockprof/engine/stats"
	"blockprof/model"
)

// predictEvalLatency is the JSON of `predict-eval` for a latency key.
type predictEvalLatency struct {
	NTrain   int     `json:"n_train"`
	NTest    int     `json:"n_test"`
	MAPE     peFloat `json:"mape"`
	Within10 peFloat `json:"within10"`
	Spearman peFloat `json:"spearman"`
	Model    string  `json:"model"`
	Device   string  `json:"device"`
	// Scale and Lambda: what the additive model's CV chose.
	Scale  string   `json:"scale,omitempty"`
	Lambda *float64 `json:"lambda,omitempty"`
}

// predictEvalTop1 is the JSON of `predict-eval --metric top1`.
type predictEvalTop1 struct {
	NTrain   int     `json:"n_train"`
	NTest    int     `json:"n_test"`
	MAE      peFloat `json:"mae"`
	RMSE     peFloat `json:"rmse"`
	Spearman peFloat `json:"spearman"`
	Model    string  `json:"model"`
	Features string  `json:"features"`
	Lambda   float64 `json:"lambda"`
}

func runPredictEval(env *Env, args []string) error {
	fs := newFlags(env, "predict-eval", "--space S (--train FILE | --store DB --device D) [--test FILE | --split 2/3] [--device KEY] [--model additive|macs|transfer] [--shots N] [--prior FILE:KEY[,FILE:KEY]] [--metric latency|top1] [--features F] [--json]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space of the records")
	device := fs.String("device", "", "latency_ms key to predict (its median), e.g. gpu-b1-fp32-graph")
	trainPath := fs.String("train", "", "training records: JSON lines as in ../shared/data/*.jsonl")
	dbPath := fs.String("store", "", "instead of --train: the results store; fits on --device's plan measurements (as export-data writes them)")
	testPath := fs.String("test", "", "test records (never used for fitting or tuning)")
	split := fs.String("split", "", "without --test: fit on the first fraction of --train, test on the rest, e.g. 2/3")
	modelName := fs.String("model", "additive", "latency predictor: additive (per-(unit, block) costs + depth), macs (a + b·MACs) or transfer (from --prior devices, with --shots)")
	metric := fs.String("metric", "latency", "latency (a latency_ms key) or top1 (an accuracy table)")
	scale := fs.String("scale", "auto", "additive fit scale: auto (chosen by CV on the training records), linear or log")
	features := fs.String("features", "auto", "top1: candidate feature sets, comma-separated ("+strings.Join(predict.Top1FeatureSets(), ", ")+"), or auto for all")
	knn := fs.String("knn", "auto", "top1: nearest-neighbour residual correction: auto (k chosen by CV, 0 allowed) or off")
	seed := fs.Uint64("seed", 1, "seed of the cross-validation folds")
	asJSON := fs.Bool("json", false, "print JSON")
	shotsF := addShotsFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	_, sp, err := loadSpace(env, "predict-eval", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	if *trainPath == "" && *dbPath == "" {
		return fmt.Errorf("predict-eval: --train FILE is required (or --store DB with --device)")
	}
	if *trainPath != "" && *dbPath != "" {
		return fmt.Errorf("predict-eval: give either --train FILE or --store DB, not both")
	}
	if (*testPath == "") == (*split == "") {
		return fmt.Errorf("predict-eval: give either --test FILE or --split FRACTION (e.g. 2/3: first 2/3 of --train to fit, the rest to test)")
	}
	var train []predict.Record
	if *dbPath != "" {
		train, err = peStoreRecords(env, *cfgPath, *dbPath, *device, sp)
		*trainPath = *dbPath + " (device " + *device + ")"
	} else {
		train, err = peReadRecords(env, *trainPath, sp)
	}
	if err != nil {
		return err
	}
	var test []predict.Record
	where := fmt.Sprintf("test %s", filepath.Base(*testPath))
	if *split != "" {
		frac, err := peFraction(*split)
		if err != nil {
			return fmt.Errorf("predict-eval: --split: %w", err)
		}
		cut := int(math.Floor(frac * float64(len(train))))
		if cut < 1 || cut >= len(train) {
			return fmt.Errorf("predict-eval: --split %s of %d records leaves an empty train or test set", *split, len(train))
		}
		train, test = train[:cut], train[cut:]
		where = fmt.Sprintf("last %d records of %s", len(test), filepath.Base(*trainPath))
	} else if test, err = peReadRecords(env, *testPath, sp); err != nil {
		return err
	}
	switch *metric {
	case "latency":
		if shotsF.active(*modelName) {
			return evalShots(env, shotsF, sp, train, test, *device, *modelName, *seed, *asJSON, *trainPath, where)
		}
		return evalLatency(env.Stdout, sp, train, test, *device, *modelName, *scale, *seed, *asJSON, *trainPath, where)
	case "top1":
		if *modelName != "additive" {
			return fmt.Errorf("predict-eval: --model %s is for latency; --metric top1 evaluates the accuracy predictor", *modelName)
		}
		opts := predict.Top1Options{Seed: *seed}
		if *features != "auto" {
			opts.Features = strings.Split(*features, ",")
		}
		switch *knn {
		case "auto":
		case "off":
			opts.NoNeighbours = true
		default:
			return fmt.Errorf("predict-eval: --knn %q: want auto or off", *knn)
		}
		return evalTop1(env.Stdout, sp, train, test, opts, *asJSON, *trainPath, where)
	}
	return fmt.Errorf("predict-eval: --metric %q: want latency or top1", *metric)
}

func peReadRecords(env *Env, path string, sp *model.Space) ([]predict.Record, error) {
	r, name, err := openInput(env, path)
	if err != nil {
		return nil, fmt.Errorf("predict-eval: %w", err)
	}
	defer r.Close()
	recs, err := predict.ReadRecords(r, name, sp)
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("predict-eval: %s has no records", name)
	}
	return recs, nil
}

// peFraction reads "2/3" or "0.67" as a number in (0, 1).
func peFraction(s string) (float64, error) {
	var f float64
	if a, b, ok := strings.Cut(s, "/"); ok {
		x, err1 := strconv.ParseFloat(strings.TrimSpace(a), 64)
		y, err2 := strconv.ParseFloat(strings.TrimSpace(b), 64)
		if err1 != nil || err2 != nil || y == 0 {
			return 0, fmt.Errorf("%q: want a fraction such as 2/3 or 0.67", s)
		}
		f = x / y
	} else {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return 0, fmt.Errorf("%q: want a fraction such as 2/3 or 0.67", s)
		}
		f = x
	}
	if !(f > 0 && f < 1) {
		return 0, fmt.Errorf("%q: the fraction must lie strictly between 0 and 1", s)
	}
	return f, nil
}

func evalLatency(w io.Writer, sp *model.Space, train, test []predict.Record, key, modelName, scale string, seed uint64, asJSON bool, trainPath, where string) error {
	if key == "" {
		return fmt.Errorf("predict-eval: --device KEY is required for --metric latency (keys in %s: %s)", filepath.Base(trainPath), strings.Join(predict.LatencyKeys(train), ", "))
	}
	ev, err := predict.EvaluateLatency(sp, train, test, key, modelName, scale, seed)
	if err != nil {
		return fmt.Errorf("predict-eval: %w", err)
	}
	out := predictEvalLatency{NTrain: ev.NTrain, NTest: ev.NTest, Model: modelName, Device: key, Scale: ev.Scale, Lambda: ev.Lambda,
		MAPE: peRound(stats.MAPE(ev.Pred, ev.Truth)), Within10: peRound(stats.WithinFrac(ev.Pred, ev.Truth, 0.10)),
		Spearman: peRound(stats.Spearman(ev.Pred, ev.Truth))}
	if asJSON {
		return peWriteJSON(w, out)
	}
	fmt.Fprintf(w, "predict-eval: %s latency predictor, device key %s, space %s\n", modelName, key, sp.Name)
	fmt.Fprintf(w, "  model: %s\n", ev.Detail)
	fmt.Fprintf(w, "  fitted on %d records of %s, tested on %d (%s); values are %s\n", ev.NTrain, filepath.Base(trainPath), ev.NTest, where, ev.Provenance)
	fmt.Fprintf(w, "  MAPE %.2f%%   within ±10%%: %.1f%%   Spearman %.3f\n", 100*float64(out.MAPE), 100*float64(out.Within10), float64(out.Spearman))
	return nil
}

func evalTop1(w io.Writer, sp *model.Space, train, test []predict.Record, opts predict.Top1Options, asJSON bool, trainPath, where string) error {
	ev, err := predict.EvaluateTop1(sp, train, test, opts)
	if err != nil {
		return fmt.Errorf("predict-eval: %w", err)
	}
	out := predictEvalTop1{NTrain: ev.NTrain, NTest: ev.NTest, Model: ev.Name, Features: ev.Features, Lambda: ev.Lambda,
		MAE: peRound(stats.MAE(ev.Pred, ev.Truth)), RMSE: peRound(stats.RMSE(ev.Pred, ev.Truth)), Spearman: peRound(stats.Spearman(ev.Pred, ev.Truth))}
	if asJSON {
		return peWriteJSON(w, out)
	}
	fmt.Fprintf(w, "predict-eval: accuracy predictor %s, space %s\n", ev.Name, sp.Name)
	fmt.Fprintf(w, "  model: features %s, λ=%g (both chosen by 5-fold CV on the training records)\n", ev.Features, ev.Lambda)
	fmt.Fprintf(w, "  fitted on %d records of %s, tested on %d (%s); values are %s\n", ev.NTrain, filepath.Base(trainPath), ev.NTest, where, ev.Provenance)
	fmt.Fprintf(w, "  MAE %.3f points   RMSE %.3f points   Spearman %.4f\n", out.MAE, out.RMSE, out.Spearman)
	return nil
}

// peFloat is a metric in predict-eval's JSON: rounded to 4 decimals (stable
// across platforms' last-bit differences), null when undefined (e.g. the
// Spearman of a constant prediction).
type peFloat float64

func (f peFloat) MarshalJSON() ([]byte, error) {
	x := float64(f)
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return []byte("null"), nil
	}
	return []byte(strconv.FormatFloat(x, 'f', -1, 64)), nil
}

func peRound(x float64) peFloat {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return peFloat(x)
	}
	return peFloat(math.Round(x*1e4) / 1e4)
}

func peWriteJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
