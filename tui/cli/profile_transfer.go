package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"blockprof/devices/safetext"
	"blockprof/engine/config"
	"blockprof/engine/predict"
	"blockprof/engine/session"
)

type transferArgs struct {
	plan, devices, space, store string
	json                        bool
}

// profileTransfer runs a transfer or confident --plan on one new device
// and prints its predicted friendliness table.
func profileTransfer(env *Env, cfg *config.Config, a transferArgs, open openDevice) error {
	tp, err := session.ParseTransferPlan(a.plan)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	var devs []string
	for _, n := range strings.Split(a.devices, ",") {
		if n = strings.TrimSpace(n); n != "" {
			devs = append(devs, n)
		}
	}
	if len(devs) != 1 {
		return fmt.Errorf("profile: --plan %s learns one new device: name it with --devices NAME (the priors %s are read from the store)", a.plan, strings.Join(tp.Priors, ", "))
	}
	device := devs[0]
	ctx := env.Ctx
	warn := func(w string) { fmt.Fprintln(env.Stderr, "profile: warning:", safetext.Escape(w)) }
	sess, err := session.Open(ctx, session.Options{Config: cfg, Space: a.space, StorePath: a.store, Version: env.Version, Open: open, Warn: warn})
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer sess.Close()
	priors, err := sess.TransferPriors(ctx, tp.Priors)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	measure := func(prep session.Prepared) error {
		run := prep.Run
		fmt.Fprintf(env.Stderr, "profile: run %d: %s, %d archs chosen by the transfer design (from %s) on %s; store %s\n",
			run.ID(), sess.Space().Name, prep.Plan, strings.Join(tp.Priors, ", "), device, sess.Store().Path())
		sub := run.Subscribe(context.WithoutCancel(ctx))
		if err := run.Start(ctx); err != nil {
			return err
		}
		sum := follow(env.Stderr, run, sub)
		if ctx.Err() != nil {
			return fmt.Errorf("profile interrupted: every finished measurement is stored")
		}
		for _, d := range sum.Devices {
			if d.Failed {
				return fmt.Errorf("profile: device failed: %s (%s)", d.Device, safetext.Line(d.LastErr))
			}
		}
		return nil
	}
	var table session.TransferTable
	if tp.Width == 0 {
		prep, err := sess.PrepareTransfer(ctx, device, tp, tp.N, priors, predict.TransferDesignOptions{})
		if err != nil {
			return fmt.Errorf("profile: %w", err)
		}
		if err := measure(prep); err != nil {
			return err
		}
		if table, err = sess.Transfer(ctx, device, priors); err != nil {
			return fmt.Errorf("profile: %w", err)
		}
	} else {
		for {
			prep, t, done, err := sess.ConfidentStep(ctx, device, tp, priors)
			if err != nil {
				return fmt.Errorf("profile: %w", err)
			}
			if t != nil {
				fmt.Fprintf(env.Stderr, "profile: %s: %d measured, block intervals max %.1f%% mean %.1f%% (target %.1f%%)\n", device, t.Measured, t.MaxWidth, t.MeanWidth, tp.Width)
			}
			if done {
				table = *t
				if t.MaxWidth > tp.Width {
					fmt.Fprintf(env.Stderr, "profile: budget of %d archs reached before the target width %.1f%%\n", tp.N, tp.Width)
				}
				break
			}
			if err := measure(prep); err != nil {
				return err
			}
		}
	}
	if a.json {
		return writeTransferJSON(env.Stdout, table)
	}
	writeTransferTable(env.Stdout, table)
	return nil
}

// writeTransferTable prints the predicted friendliness table: effects as
// relative changes (exp(Rel)−1) with 95% intervals.
func writeTransferTable(w io.Writer, t session.TransferTable) {
	fmt.Fprintf(w, "%s: friendliness %s\n", t.Device, t.Label)
	var sc []string
	for _, s := range t.Scales {
		sc = append(sc, fmt.Sprintf("%s ×%.3f±%.3f", s.Name, s.Effect, s.SE))
	}
	fmt.Fprintf(w, "scales of the prior effects: %s; residual σ %.1f%%; block intervals max %.1f%% mean %.1f%% wide\n",
		strings.Join(sc, ", "), 100*t.Sigma, t.MaxWidth, t.MeanWidth)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "unit\tblock\teffect\t95% interval\tlayers")
	for _, b := range t.Blocks {
		fmt.Fprintf(tw, "%d\t%s\t%s\t[%s, %s]\t%d\n", b.Unit, b.Block, pct(b.Rel), pct(b.Lo), pct(b.Hi), b.N)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "unit\tdepth\teffect\t95% interval\tarchs")
	for _, d := range t.Depths {
		fmt.Fprintf(tw, "%d\t%d\t%s\t[%s, %s]\t%d\n", d.Unit, d.Depth, pct(d.Rel), pct(d.Lo), pct(d.Hi), d.N)
	}
	tw.Flush()
}

// pct shows a log-scale effect as a relative change.
func pct(x float64) string { return fmt.Sprintf("%+.1f%%", 100*(math.Exp(x)-1)) }

func writeTransferJSON(w io.Writer, t session.TransferTable) error {
	type row struct {
		Unit  int     `json:"unit"`
		Block string  `json:"block,omitempty"`
		Depth int     `json:"depth,omitempty"`
		Rel   peFloat `json:"effect"`
		Lo    peFloat `json:"lo"`
		Hi    peFloat `json:"hi"`
		N     int     `json:"n"`
	}
	out := struct {
		Device    string   `json:"device"`
		Label     string   `json:"label"`
		Priors    []string `json:"priors"`
		Measured  int      `json:"measured"`
		Scale     string   `json:"scale"`
		MaxWidth  peFloat  `json:"max_width_pct"`
		MeanWidth peFloat  `json:"mean_width_pct"`
		Blocks    []row    `json:"blocks"`
		Depths    []row    `json:"depths"`
	}{Device: t.Device, Label: t.Label, Priors: t.Priors, Measured: t.Measured, Scale: "log", MaxWidth: peRound(t.MaxWidth), MeanWidth: peRound(t.MeanWidth)}
	for _, b := range t.Blocks {
		out.Blocks = append(out.Blocks, row{Unit: b.Unit, Block: b.Block, Rel: peRound(b.Rel), Lo: peRound(b.Lo), Hi: peRound(b.Hi), N: b.N})
	}
	for _, d := range t.Depths {
		out.Depths = append(out.Depths, row{Unit: d.Unit, Depth: d.Depth, Rel: peRound(d.Rel), Lo: peRound(d.Lo), Hi: peRound(d.Hi), N: d.N})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
