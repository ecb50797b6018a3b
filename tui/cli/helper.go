package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"blockprof/devices/ondevice"
	"blockprof/devices/safetext"
	"blockprof/engine/session"
)

// runHelper is the model builder a command device starts on its target
// (build_on_device in its [[devices]] table): --version prints its hello
// (protocol, build hash, GOOS/GOARCH); --dir serves requests from stdin,
// writing model files into DIR (devices/ondevice).
func runHelper(env *Env, args []string) error {
	fs := newFlags(env, "helper", "(--version | --dir DIR)")
	version := fs.Bool("version", false, "print the helper's hello (protocol, build, goos, goarch) as JSON and exit")
	dir := fs.String("dir", "", "directory to write the requested model files into")
	if err := parse(fs, args); err != nil {
		return err
	}
	hello, err := ondevice.SelfHello()
	if err != nil {
		return err
	}
	if *version {
		return json.NewEncoder(env.Stdout).Encode(hello)
	}
	return ondevice.Serve(env.Ctx, env.Stdin, env.Stdout, *dir, hello)
}

// helperNotes says, after a run, how each command device with
// build_on_device got its models to the target: built there by the
// helper, or copied and why (the fallback's warning).
func helperNotes(env *Env, sess *session.Session, names []string) {
	for _, name := range names {
		d, _, err := sess.Device(context.WithoutCancel(env.Ctx), name)
		if err != nil {
			continue
		}
		if h := d.Info().Helper; h != "" {
			fmt.Fprintf(env.Stderr, "profile: %s: %s\n", name, safetext.Line(h))
		}
	}
}
