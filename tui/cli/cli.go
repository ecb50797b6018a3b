// Package cli implements blockprof's headless sub-commands: each reads
// flags, wires the configuration to the model, devices and engine, and
// writes JSON, CSV or text for scripts. The explorer and the SSH server are
// wired in main.go.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"blockprof/engine/config"
	"blockprof/model"
)

// Env is what every command gets: its streams, the embedded default config
// and the process context (cancelled on Ctrl-C).
type Env struct {
	Ctx      context.Context
	Stdin    io.Reader
	Stdout   io.Writer
	Stderr   io.Writer
	Embedded []byte
	Version  string
}

// Command is one sub-command.
type Command struct {
	Name    string
	Summary string
	Run     func(env *Env, args []string) error
}

// Commands lists the headless sub-commands in help order.
func Commands() []Command {
	return []Command{
		{"spaces", "list the search spaces: units, choices, size", runSpaces},
		{"sample", "sample architectures (uniform or with a fixed block) as JSON lines", runSample},
		{"count", "count MACs and params of architectures read as JSON lines", runCount},
		{"devices", "list the configured devices; --check opens each and reports what it found", runDevices},
		{"profile", "measure the plan on the configured devices into the store (resumable)", runProfile},
		{"measure", "measure one architecture on one device and print its samples", runMeasure},
		{"export-model", "write the model file (ONNX or TFLite; fp32, fp16 or int8) of architectures", runExportModel},
		{"predict-eval", "check a latency or accuracy predictor on recorded data (train/test files or a split)", runPredictEval},
		{"analyze", "block-friendliness tables (Eq. 1-3 and the regression estimator) from a store or a recorded file", runAnalyze},
		{"blockwise", "the paper's block-wise response M_b (Eq. 1) of a space on one device, as in its Fig. 2-4", runBlockwise},
		{"search", "evolutionary search in the original and a reduced space; Pareto fronts compared by hypervolume", runSearch},
	}
}

// ErrUsage marks a usage error already explained on stderr.
var ErrUsage = errors.New("usage error")

// Run dispatches args[0] to its command.
func Run(env *Env, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 {
			for _, c := range Commands() {
				if c.Name == args[1] {
					return c.Run(env, []string{"-h"})
				}
			}
		}
		Usage(env.Stdout)
		return nil
	}
	for _, c := range Commands() {
		if c.Name == args[0] {
			err := c.Run(env, args[1:])
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			return err
		}
	}
	Usage(env.Stderr)
	return fmt.Errorf("unknown command %q (see `blockprof help`)", args[0])
}

// Usage prints the command list.
func Usage(w io.Writer) {
	fmt.Fprintln(w, "blockprof: profile neural blocks on your devices and reduce NAS search spaces.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage:")
	fmt.Fprintln(w, "  blockprof [--config F] [--store DB]      open the explorer and profile the configured devices")
	fmt.Fprintln(w, "  blockprof serve --listen ADDR --authorized-keys F --host-key F   serve the explorer over SSH")
	cmds := Commands()
	sort.SliceStable(cmds, func(i, j int) bool { return false })
	for _, c := range cmds {
		fmt.Fprintf(w, "  blockprof %-12s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintln(w, "\n`blockprof help COMMAND` or `blockprof COMMAND -h` shows a command's flags.")
}

// newFlags makes a flag set that prints its usage on the env's stderr.
func newFlags(env *Env, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.Stderr, "usage: blockprof %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses flags and rejects stray arguments.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// loadConfig loads --config or the embedded default.
func loadConfig(env *Env, path string) (*config.Config, error) {
	return config.Load(path, env.Embedded)
}

// loadSpace loads --config (or the embedded default) and the space a
// required --space flag names.
func loadSpace(env *Env, cmd, cfgPath, spaceName string) (*config.Config, *model.Space, error) {
	cfg, err := loadConfig(env, cfgPath)
	if err != nil {
		return nil, nil, err
	}
	if spaceName == "" {
		return nil, nil, fmt.Errorf("%s: --space is required (one of %s)", cmd, strings.Join(cfg.Spaces.Names(), ", "))
	}
	sp, err := cfg.Spaces.Get(spaceName)
	if err != nil {
		return nil, nil, err
	}
	return cfg, sp, nil
}

// openInput opens a file argument, "-" meaning stdin.
func openInput(env *Env, path string) (io.ReadCloser, string, error) {
	if path == "" || path == "-" {
		return io.NopCloser(env.Stdin), "stdin", nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, "", err
	}
	return f, path, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
