package cli

import (
	"fmt"
	"os"
	"path/filepath"

	"blockprof/devices"
	"blockprof/devices/backends"
	"blockprof/engine/accuracy"
	"blockprof/engine/config"
	"blockprof/engine/predict"
	"blockprof/engine/store"
	"blockprof/model"
)

// objective is one search objective with the label shown beside its numbers.
type objective struct {
	fn    func(model.Arch) (float64, error)
	label string
	// field is the JSON/plot name of the value: "latency_ms", "accuracy"
	// or "proxy_score".
	field string
	// close releases what fn holds (a device); nil when nothing.
	close func() error
}

// Close releases the objective's device, if any.
func (o objective) Close() error {
	if o.close == nil {
		return nil
	}
	return o.close()
}

// backendOptions are the options every command opens devices with: one
// host lock, paths relative to the config file (the working directory for
// the embedded config).
func backendOptions(cfg *config.Config) backends.Options {
	dir := ""
	if cfg.File != config.EmbeddedName {
		dir = backends.DirOf(cfg.File)
	}
	return backends.Options{Lock: devices.NewHostLock(), Dir: dir, Spaces: cfg.Spaces}
}

// latencyObjective builds the latency objective for a device: simulated and
// table devices are evaluated directly; a replay device's file and a
// measured device's stored measurements train the additive predictor.
func latencyObjective(env *Env, cfg *config.Config, sp *model.Space, device, storePath string) (objective, error) {
	dc, err := cfg.Device(device)
	if err != nil {
		return objective{}, err
	}
	switch dc.Kind {
	case "sim", "lut":
		dev, err := backends.Open(env.Ctx, dc, backendOptions(cfg))
		if err != nil {
			return objective{}, err
		}
		info := dev.Info()
		return objective{field: "latency_ms", label: fmt.Sprintf("%s (%s device %s)", info.Label, dc.Kind, device), close: dev.Close, fn: func(a model.Arch) (float64, error) {
			net, err := sp.Network(a)
			if err != nil {
				return 0, err
			}
			m, err := dev.Measure(env.Ctx, net)
			if err != nil {
				return 0, err
			}
			return store.Median(m.SamplesMs), nil
		}}, nil
	case "replay":
		path := backendOptions(cfg).Resolve(dc.File)
		f, err := os.Open(path)
		if err != nil {
			return objective{}, fmt.Errorf("device %s: %w", device, err)
		}
		defer f.Close()
		recs, err := predict.ReadRecords(f, path, sp)
		if err != nil {
			return objective{}, err
		}
		archs, y, err := predict.Latencies(recs, dc.Key)
		if err != nil {
			return objective{}, fmt.Errorf("device %s: %w", device, err)
		}
		return fitLatency(sp, archs, y, fmt.Sprintf("predicted (additive model fitted on %d replayed measurements, key %s of %s)", len(archs), dc.Key, filepath.Base(path)))
	default:
		st, err := store.Open(env.Ctx, storePath)
		if err != nil {
			return objective{}, err
		}
		defer st.Close()
		recs, err := st.Query(env.Ctx, store.Query{Device: device, Space: sp.Name, Latest: true})
		if err != nil {
			return objective{}, err
		}
		var archs []model.Arch
		var y []float64
		for _, r := range recs {
			if r.Kind != store.KindPlan {
				continue
			}
			a, err := sp.ParseArch(r.Arch)
			if err != nil {
				continue // another resolution or space variant
			}
			archs = append(archs, a)
			y = append(y, r.Median)
		}
		if len(archs) < 30 {
			return objective{}, fmt.Errorf("device %s: only %d measurements of %s in %s; profile first (`blockprof profile --devices %s --store %s`)", device, len(archs), sp.Name, storePath, device, storePath)
		}
		return fitLatency(sp, archs, y, fmt.Sprintf("predicted (additive model fitted on %d measurements of device %s)", len(archs), device))
	}
}

func fitLatency(sp *model.Space, archs []model.Arch, y []float64, label string) (objective, error) {
	m, err := predict.FitAdditive(sp, archs, y, predict.AdditiveOptions{})
	if err != nil {
		return objective{}, err
	}
	return objective{field: "latency_ms", label: label, fn: func(a model.Arch) (float64, error) { return m.Predict(a), nil }}, nil
}

// accuracyObjective builds the accuracy objective: a top-1 predictor
// fitted on an accuracy table when one is given, else the space's
// configured source (the proxy by default, labelled proxy).
func accuracyObjective(env *Env, cfg *config.Config, sp *model.Space, table string) (objective, error) {
	if table != "" {
		recs, err := accuracy.ReadTable(table, sp)
		if err != nil {
			return objective{}, err
		}
		if n := recs.Note(); n != "" {
			fmt.Fprintln(env.Stderr, "warning:", n)
		}
		src, err := accuracy.NewPredictor(recs, sp, predict.Top1Options{})
		if err != nil {
			return objective{}, err
		}
		return sourceObjective(env, sp, src, fmt.Sprintf("predicted (top-1 predictor fitted on %d archs of %s)", recs.Len(), filepath.Base(table)))
	}
	src, err := accuracy.Open(sp.Accuracy, sp, backendOptions(cfg).Dir)
	if err != nil {
		return objective{}, err
	}
	if n := accuracy.NoteOf(src); n != "" {
		fmt.Fprintln(env.Stderr, "warning:", n)
	}
	return sourceObjective(env, sp, src, "")
}

// sourceObjective wraps an accuracy source; one probe of the space's
// smallest arch gives the value's field (accuracy or proxy_score) and label.
func sourceObjective(env *Env, sp *model.Space, src accuracy.Source, label string) (objective, error) {
	probe, err := src.Top1(env.Ctx, sp.MinArch(sp.Resolution))
	if err != nil {
		return objective{}, fmt.Errorf("accuracy source of %s: %w", sp.Name, err)
	}
	if label == "" {
		label = probe.Label + " (" + probe.Source + ")"
	}
	o := objective{label: label, field: "accuracy"}
	if probe.IsProxy() {
		o.field = "proxy_score"
	}
	o.fn = func(a model.Arch) (float64, error) {
		v, err := src.Top1(env.Ctx, a)
		if err != nil {
			return 0, err
		}
		return v.Top1, nil
	}
	return o, nil
}
