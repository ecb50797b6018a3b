package cli

import (
	"bufio"
	"fmt"

	"blockprof/model"
)

func runCount(env *Env, args []string) error {
	fs := newFlags(env, "count", "--space S --in FILE|- [--config F]")
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	spaceName := fs.String("space", "", "search space of the architectures")
	in := fs.String("in", "-", "JSON lines with an \"arch\" field, a canonical string or an OFA object; - for stdin")
	if err := parse(fs, args); err != nil {
		return err
	}
	_, sp, err := loadSpace(env, "count", *cfgPath, *spaceName)
	if err != nil {
		return err
	}
	r, name, err := openInput(env, *in)
	if err != nil {
		return fmt.Errorf("count: %w", err)
	}
	defer r.Close()
	w := bufio.NewWriter(env.Stdout)
	defer w.Flush()
	return model.ScanArchLines(r, name, sp, func(line int, a model.Arch) error {
		net, err := sp.Network(a)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", name, line, err)
		}
		_, err = fmt.Fprintf(w, "{\"macs\": %d, \"params\": %d}\n", net.MACs(), net.Params())
		return err
	})
}
