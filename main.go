// Command blockprof profiles neural blocks of NAS search spaces on real
// devices, scores their friendliness per unit position, reduces the space
// and searches it. `blockprof help` lists the sub-commands.
package main

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"blockprof/engine/cli"
)

//go:embed config.toml
var embeddedConfig []byte

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
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
	return cli.Run(env, args)
}
