package cli

import (
	"bufio"
	"fmt"

	"blockprof/engine/session"
)

func runExportData(env *Env, args []string) error {
	fs := newFlags(env, "export-data", "--store DB [--device D] [--space S] [--resolution R] > FILE.jsonl")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	dbPath := fs.String("store", "", "results store (SQLite) written by profiling runs")
	device := fs.String("device", "", "export this device only (default: every device of the store)")
	spaceName := fs.String("space", "", "search space (default: the one the store holds)")
	res := fs.Int("resolution", 0, "export archs at this resolution (default: [plan] resolution, or the only one the store holds)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dbPath == "" {
		return fmt.Errorf("export-data: --store DB is required")
	}
	cfg, err := loadConfig(env, *cfgPath)
	if err != nil {
		return err
	}
	sess, err := session.Open(env.Ctx, session.Options{Config: cfg, Space: *spaceName, SpaceFromStore: *spaceName == "",
		StorePath: *dbPath, Resolution: *res, Version: env.Version})
	if err != nil {
		return fmt.Errorf("export-data: %w", err)
	}
	defer sess.Close()
	w := bufio.NewWriter(env.Stdout)
	got, err := sess.ExportData(env.Ctx, w, *device)
	if err != nil {
		return fmt.Errorf("export-data: %w", err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("export-data: %w", err)
	}
	fmt.Fprintf(env.Stderr, "export-data: %d archs", got.Lines)
	for _, d := range got.Devices {
		fmt.Fprintf(env.Stderr, "; %s: %d records", d, got.Records[d])
		if n := got.Stale[d]; n > 0 {
			fmt.Fprintf(env.Stderr, " (%d taken with earlier settings not exported)", n)
		}
	}
	fmt.Fprintln(env.Stderr)
	return nil
}
