// Command blockprof profiles neural blocks of NAS search spaces on real
// devices, scores their friendliness per unit position, reduces the space
// and searches it. `blockprof help` lists the sub-commands; with no
// sub-command it opens the explorer.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"blockprof/engine/config"
	"blockprof/engine/exportdir"
	"blockprof/tui"
	"blockprof/tui/app"
	"blockprof/tui/cli"
	"blockprof/tui/serve"
)

//go:embed config.toml
var embeddedConfig []byte

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// memoryLimit is the Go runtime's soft limit unless GOMEMLIMIT says
// otherwise. With 100k measurements in the store the explorer's live heap
// peaks at 30-39 MB (analyses of 20,000 archs, the Pareto view's scores)
// and rests at 12-20 MB, `analyze --suggest` peaks at 35 MB; without a
// limit the collector lets the heap grow to twice the live data. At 64 MiB
// the explorer with the ort device peaked at 170 MB instead of 176-182,
// for about twice the collections (10 ms each); at 48 MiB the Pareto view
// collected 715 times instead of 59 (docs/benchmarks.md, issue 14).
const memoryLimit = 64 << 20

func main() {
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(memoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cli.Env{Ctx: ctx, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Embedded: embeddedConfig, Version: version}
	if err := run(env, os.Args[1:]); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "blockprof:", err)
		}
		os.Exit(1)
	}
}

func run(env *cli.Env, args []string) error {
	switch {
	case len(args) == 0 || strings.HasPrefix(args[0], "-") && args[0] != "-h" && args[0] != "--help":
		return explore(env, args, false)
	case args[0] == "serve":
		return explore(env, args[1:], true)
	}
	return cli.Run(env, args)
}

// explore opens the explorer in this terminal, or serves it over SSH, over a
// profiling run of the configured devices (resumed from the store).
func explore(env *cli.Env, args []string, serveMode bool) error {
	name := "blockprof"
	if serveMode {
		name = "blockprof serve"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	cfgPath := fs.String("config", "", "config file (default: the embedded config.toml)")
	storePath := fs.String("store", "blockprof.db", "results store (SQLite); a re-run resumes what it holds")
	devList := fs.String("devices", "", "comma-separated devices to profile (default: every device with profile = true)")
	spaceName := fs.String("space", "", "search space (default: [plan] space)")
	reduced := fs.String("reduced", "", "reduced-space TOML to load as the current cuts (an explorer export, analyze --reduced-out or spaces/*.toml)")
	noProfile := fs.Bool("no-profile", false, "show what the store holds without profiling")
	remeasure := fs.Bool("remeasure", false, "measure every plan arch again, even those the store holds")
	var listen, keys, hostKey, exports, operators *string
	var handshake, idle *time.Duration
	if serveMode {
		listen = fs.String("listen", "127.0.0.1:2222", "address to listen on")
		keys = fs.String("authorized-keys", "", "authorized_keys file: the only public keys let in (required); from=, expiry-time=, no-pty and restrict are honoured, command= refuses the key")
		hostKey = fs.String("host-key", "", "the server's private key file (an ed25519 key is created there if missing; required)")
		defExports, _ := exportdir.DefaultDir()
		exports = fs.String("exports", defExports, "directory the sessions' exports go to (created 0700); a session cannot write anywhere else")
		operators = fs.String("operators", "", "authorized_keys-format file of the keys that may pause, resume and cancel devices (default: every session may)")
		handshake = fs.Duration("handshake-timeout", serve.DefaultHandshakeTimeout, "close a connection that has not logged in within this time")
		idle = fs.Duration("idle-timeout", serve.DefaultIdleTimeout, "close a session without input for this long")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", name, fs.Arg(0))
	}
	if serveMode { // refuse before profiling anything
		if *keys == "" {
			return errors.New("serve: --authorized-keys FILE is required: the explorer is served to the public keys listed there only")
		}
		if _, err := serve.ReadAuthorizedKeys(*keys); err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		if *hostKey == "" {
			return errors.New("serve: --host-key FILE is required (an ed25519 key is created there if missing, then reused)")
		}
		if *exports == "" {
			return errors.New("serve: --exports DIR is required here (no data directory found): the sessions' exports go there")
		}
		if *handshake <= 0 || *idle <= 0 {
			return errors.New("serve: --handshake-timeout and --idle-timeout must be positive (e.g. 30s, 30m)")
		}
	}
	cfg, err := config.Load(*cfgPath, env.Embedded)
	if err != nil {
		return err
	}
	var devs []string
	for _, d := range strings.Split(*devList, ",") {
		if d = strings.TrimSpace(d); d != "" {
			devs = append(devs, d)
		}
	}
	sess, err := app.Start(env.Ctx, app.Setup{Config: cfg, Space: *spaceName, StorePath: *storePath, Devices: devs,
		NoProfile: *noProfile, Reduced: *reduced, Remeasure: *remeasure, Version: env.Version,
		Warn: func(w string) { fmt.Fprintln(env.Stderr, "blockprof: warning:", w) }})
	if err != nil {
		return err
	}
	defer sess.Close() // stops the run; a re-run resumes
	if serveMode {
		return serve.Run(env.Ctx, sess.App, serve.Options{Listen: *listen, AuthorizedKeys: *keys, HostKey: *hostKey,
			Exports: *exports, Operators: *operators, HandshakeTimeout: *handshake, IdleTimeout: *idle})
	}
	return tui.Run(env.Ctx, sess.App)
}
