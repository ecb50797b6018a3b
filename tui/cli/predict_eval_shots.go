package cli

import (
	"flag"
	"fmt"
	"path/filepath"
	"strings"

	"blockprof/engine/predict"
	"blockprof/engine/stats"
	"blockprof/model"
)

// peShotsFlags are predict-eval's few-shot flags (a new device learnt from
// N measurements, with or without prior devices).
type peShotsFlags struct {
	shots *int
	prior *string
}

func addShotsFlags(fs *flag.FlagSet) peShotsFlags {
	return peShotsFlags{
		shots: fs.Int("shots", 0, "fit on only N archs of --train: chosen by the transfer design with --model transfer, drawn uniformly (by --seed) with additive or macs"),
		prior: fs.String("prior", "", "prior devices for --model transfer: FILE:KEY[,FILE:KEY] (records of the same space; KEY a latency_ms key); the item macs adds the MACs of the archs as a pseudo device"),
	}
}

// active says whether the few-shot evaluation was asked for.
func (f peShotsFlags) active(modelName string) bool {
	return *f.shots != 0 || *f.prior != "" || modelName == "transfer"
}

// predictEvalShots is the JSON of `predict-eval --shots N`.
type predictEvalShots struct {
	predictEvalLatency
	Shots    int      `json:"shots"`
	Priors   []string `json:"priors,omitempty"`
	Coverage *peFloat `json:"coverage95,omitempty"`
	Label    string   `json:"label"`
	Chosen   []int    `json:"chosen_lines"`
}

func evalShots(env *Env, f peShotsFlags, sp *model.Space, train, test []predict.Record, key, modelName string, seed uint64, asJSON bool, trainPath, where string) error {
	if key == "" {
		return fmt.Errorf("predict-eval: --device KEY is required for --shots (keys in %s: %s)", filepath.Base(trainPath), strings.Join(predict.LatencyKeys(train), ", "))
	}
	if *f.shots == 0 {
		return fmt.Errorf("predict-eval: --shots N is required with --prior or --model transfer (how many archs of the new device to measure, e.g. 20)")
	}
	if modelName == "transfer" && *f.prior == "" {
		return fmt.Errorf("predict-eval: --model transfer needs --prior FILE:KEY[,FILE:KEY] (the devices it starts from)")
	}
	if modelName != "transfer" && *f.prior != "" {
		return fmt.Errorf("predict-eval: --prior is for --model transfer; --model %s starts from nothing", modelName)
	}
	var priors []predict.TransferPrior
	var names []string
	if *f.prior != "" {
		specs, err := predict.ParsePriorSpecs(*f.prior)
		if err != nil {
			return fmt.Errorf("predict-eval: %w", err)
		}
		for _, s := range specs {
			if s.MACs {
				p, err := predict.MACsPriorOfRecords(sp, train)
				if err != nil {
					return fmt.Errorf("predict-eval: --prior macs: %w", err)
				}
				priors = append(priors, p)
				names = append(names, p.Name)
				continue
			}
			recs, err := peReadRecords(env, s.File, sp)
			if err != nil {
				return err
			}
			p, err := predict.PriorFromRecords(sp, filepath.Base(s.File), recs, s.Key)
			if err != nil {
				return fmt.Errorf("predict-eval: --prior: %w", err)
			}
			priors = append(priors, p)
			names = append(names, p.Name)
		}
	}
	ev, err := predict.EvaluateShots(sp, train, test, key, modelName, *f.shots, priors, seed)
	if err != nil {
		return fmt.Errorf("predict-eval: %w", err)
	}
	out := predictEvalShots{
		predictEvalLatency: predictEvalLatency{NTrain: ev.NTrain, NTest: ev.NTest, Model: modelName, Device: key,
			MAPE: peRound(stats.MAPE(ev.Pred, ev.Truth)), Within10: peRound(stats.WithinFrac(ev.Pred, ev.Truth, 0.10)),
			Spearman: peRound(stats.Spearman(ev.Pred, ev.Truth))},
		Shots: *f.shots, Priors: names, Label: ev.Label, Chosen: ev.Chosen,
	}
	if ev.Lo != nil {
		c := peRound(predict.Coverage(ev.Lo, ev.Hi, ev.Truth))
		out.Coverage = &c
	}
	if asJSON {
		return peWriteJSON(env.Stdout, out)
	}
	w := env.Stdout
	fmt.Fprintf(w, "predict-eval: %s latency predictor from %d measurements, device key %s, space %s\n", modelName, *f.shots, key, sp.Name)
	fmt.Fprintf(w, "  model: %s\n", ev.Detail)
	how := "chosen uniformly at random (--seed)"
	if modelName == "transfer" {
		how = "chosen by the transfer design"
	}
	fmt.Fprintf(w, "  measured %d of the %d records of %s (%s): lines %s\n", ev.NTrain, len(train), filepath.Base(trainPath), how, joinInts(ev.Chosen))
	fmt.Fprintf(w, "  tested on %d (%s); values are %s\n", ev.NTest, where, ev.Label)
	fmt.Fprintf(w, "  MAPE %.2f%%   within ±10%%: %.1f%%   Spearman %.3f", 100*float64(out.MAPE), 100*float64(out.Within10), float64(out.Spearman))
	if out.Coverage != nil {
		fmt.Fprintf(w, "   95%% interval coverage %.1f%%", 100*float64(*out.Coverage))
	}
	fmt.Fprintln(w)
	return nil
}
