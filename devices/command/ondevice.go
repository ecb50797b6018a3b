package command

// Models built on the target (build_on_device): instead of exporting each
// network here and copying its 13–30 MB file to the target, the command
// device pushes a static blockprof binary there once (helper_dir, kept
// between runs and pushed again only when its SHA-256 differs from the
// local helper's), starts `blockprof helper --dir RUNDIR` on the target
// and sends each arch as one JSON line (devices/ondevice); the helper
// writes the model file beside where the copy would have gone and replies
// with its path, size and SHA-256. The first model a device builds on the
// target is also exported here and its hash compared, so a helper from
// another revision whose models differ is never used: the model the tool
// times is byte-identical to the one copied, and the device's fingerprint
// keeps its meaning (build_on_device, helper and helper_dir are not part
// of it).
//
// With "auto" a target that cannot run the helper (another architecture,
// a noexec directory, no helper binary for it, a helper whose models
// differ) falls back to copying files; Info().Helper says which way models
// travel and why. With "always" the same conditions are errors.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	"blockprof/devices"
	"blockprof/devices/ondevice"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
)

// build_on_device values.
const (
	BuildNever  = "never"
	BuildAuto   = "auto"
	BuildAlways = "always"
)

// HelperName is the helper's file name in helper_dir on the target.
const HelperName = "blockprof-helper"

// maxHelperPath bounds the helper and helper_dir keys.
const maxHelperPath = 1024

var helperDirRE = regexp.MustCompile(`^/[A-Za-z0-9_./-]*$`)

// helperConfig is the validated build_on_device, helper and helper_dir.
type helperConfig struct {
	mode  string
	local string // the local helper binary, with {goos} and {goarch}
	dir   string // the directory on the target that keeps it
}

// parseHelperConfig checks the on-device keys of cfg; errors name the key.
func parseHelperConfig(cfg devices.Config) (helperConfig, error) {
	keyErr := func(key, format string, args ...any) (helperConfig, error) {
		return helperConfig{}, &devices.KeyError{Key: key, Err: fmt.Errorf(format, args...)}
	}
	hc := helperConfig{mode: cfg.BuildOnDevice, local: cfg.Helper, dir: cfg.HelperDir}
	switch hc.mode {
	case "":
		hc.mode = BuildNever
	case BuildNever, BuildAuto, BuildAlways:
	default:
		return keyErr("build_on_device", "%q: want \"never\" (copy each model, the default), \"auto\" (build it on the target, else copy) or \"always\"", safetext.Line(transport.Excerpt(hc.mode, 40)))
	}
	if hc.mode == BuildNever {
		if hc.local != "" || hc.dir != "" {
			key := "helper"
			if hc.local == "" {
				key = "helper_dir"
			}
			return keyErr(key, "set but build_on_device is \"never\": set build_on_device = \"auto\" to use the helper, or remove %s", key)
		}
		return hc, nil
	}
	if len(hc.local) > maxHelperPath || strings.ContainsAny(hc.local, "\x00\n") {
		return keyErr("helper", "want a local file path of at most %d bytes on one line", maxHelperPath)
	}
	for rest := hc.local; ; {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			break
		}
		if name := rest[i+1 : i+j]; name != "goos" && name != "goarch" {
			return keyErr("helper", "unknown placeholder {%s} in %q (known: {goos}, {goarch})", safetext.Line(transport.Excerpt(name, 40)), safetext.Line(transport.Excerpt(hc.local, 200)))
		}
		rest = rest[i+j+1:]
	}
	if hc.dir == "" {
		hc.dir = "/tmp"
		if cfg.Transport == "adb" {
			hc.dir = "/data/local/tmp"
		}
	}
	if len(hc.dir) > maxHelperPath || !helperDirRE.MatchString(hc.dir) || strings.Contains(hc.dir, "..") {
		return keyErr("helper_dir", "%q: want an absolute directory on the target of letters, digits, '.', '_', '-' and '/' (at most %d bytes), like \"/data/local/tmp\"",
			safetext.Line(transport.Excerpt(hc.dir, 200)), maxHelperPath)
	}
	return hc, nil
}

// Traffic counts what a command device sent to and read from its target
// for models: copied model files, helper pushes and the helper's JSON
// lines.
type Traffic struct {
	// Copied models: how many and their bytes.
	Copies      int
	CopiedBytes int64
	// Helper pushes (the binary) and their bytes.
	Pushes      int
	PushedBytes int64
	// Models built on the target, the request bytes sent (DefineBytes of
	// them space definitions, sent once per space and helper process) and
	// the hello and reply bytes read.
	Built        int
	RequestBytes int64
	DefineBytes  int64
	ReplyBytes   int64
}

// Traffic is what the device has moved for models so far.
func (d *Device) Traffic() Traffic {
	d.od.mu.Lock()
	defer d.od.mu.Unlock()
	return d.od.traffic
}

// UseSpaces gives the device the configured spaces: a helper on the
// target builds an arch from its space's definition, which the device
// sends with the space's first arch. Without them every model is copied.
func (d *Device) UseSpaces(ss *model.Spaces) {
	d.od.mu.Lock()
	defer d.od.mu.Unlock()
	d.od.spaces = ss
}

// helper states.
const (
	helperUnknown  = iota // not set up yet
	helperReady           // pushed and checked; proc runs or is started on demand
	helperUnusable        // models are copied (reason says why)
)

// onDevice is the device's helper on the target.
type onDevice struct {
	cfg helperConfig

	mu      sync.Mutex
	spaces  *model.Spaces
	state   int
	reason  string
	hello   ondevice.Hello
	remote  string // the helper's path on the target
	proc    *transport.Process
	rd      *bufio.Reader
	stop    context.CancelFunc
	defined map[string]bool // spaces the running helper process knows
	checked bool            // the first model was compared with a local export
	traffic Traffic
	status  atomic.Pointer[string] // what describe says
}

// describe is Info.Helper: how models reach the target. It does not wait
// for a measurement in flight (which holds mu).
func (o *onDevice) describe() string {
	if p := o.status.Load(); p != nil {
		return *p
	}
	if o.cfg.mode == BuildNever {
		return ""
	}
	return "build_on_device = " + o.cfg.mode + ": helper not checked yet"
}

// publish updates what describe says; mu is held.
func (o *onDevice) publish() {
	s := o.status0()
	o.status.Store(&s)
}

func (o *onDevice) status0() string {
	switch {
	case o.cfg.mode == BuildNever:
		return ""
	case o.state == helperReady:
		return fmt.Sprintf("models built on the target by helper %s (%s/%s, protocol %d) at %s", o.hello.Build[:12], o.hello.GOOS, o.hello.GOARCH, o.hello.Protocol, o.remote)
	case o.state == helperUnusable:
		return safetext.Line("models copied: the helper cannot build them on the target: " + o.reason)
	}
	return "build_on_device = " + o.cfg.mode + ": helper not checked yet"
}

// placeModel puts net's model file on the target: built there by the
// helper when build_on_device allows and it can, else exported here and
// copied.
func (d *Device) placeModel(ctx context.Context, net *model.Network) (string, error) {
	if d.od.cfg.mode == BuildNever {
		return d.copyModel(ctx, net)
	}
	p, err := d.od.build(ctx, d, net)
	if err != nil || p != "" {
		return p, err
	}
	return d.copyModel(ctx, net)
}

// fallBack records why models are copied from now on; with "always" it is
// the measurement's error instead.
func (o *onDevice) fallBack(format string, args ...any) error {
	o.reason = fmt.Sprintf(format, args...)
	o.state = helperUnusable
	o.publish()
	o.stopProc()
	if o.cfg.mode == BuildAlways {
		return fmt.Errorf("build_on_device = \"always\": %s", o.reason)
	}
	return nil
}

// build returns the path of net's model built on the target, or "" when
// the device copies it instead.
func (o *onDevice) build(ctx context.Context, d *Device, net *model.Network) (string, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == helperUnknown {
		if err := o.setup(ctx, d.tr); err != nil {
			return "", err
		}
	}
	if o.state != helperReady {
		if o.cfg.mode == BuildAlways {
			return "", fmt.Errorf("build_on_device = \"always\": %s", o.reason)
		}
		return "", nil
	}
	var sp *model.Space
	if o.spaces != nil {
		sp, _ = o.spaces.Get(net.Space)
	}
	if sp == nil || !sameNetwork(sp, net) {
		// A network no configured space rebuilds (a reduced space's, a
		// test's): copy this one.
		if o.cfg.mode == BuildAlways {
			if o.spaces == nil {
				return "", fmt.Errorf("build_on_device = \"always\": the device was opened without the configured spaces, so it cannot send %s's space to the helper", net.Arch)
			}
			return "", fmt.Errorf("build_on_device = \"always\": space %q of the configuration does not rebuild %s", net.Space, net.Arch)
		}
		return "", nil
	}
	if o.proc == nil {
		if err := o.start(ctx, d.tr); err != nil {
			return "", o.failed(ctx, "starting the helper", err)
		}
	}
	name := ModelName(d.spec.Format)
	req := ondevice.Request{Space: sp.Name, Arch: net.Arch, Format: d.spec.Format, Precision: d.spec.Precision, Seed: weightSeed, Batch: d.batch, Out: name}
	if !o.defined[sp.Name] {
		req.Define = sp
		if b, err := json.Marshal(sp); err == nil {
			o.traffic.DefineBytes += int64(len(b)) + int64(len(`,"define":`))
		}
	}
	rep, err := o.exchange(ctx, req)
	if err != nil {
		return "", o.failed(ctx, "the helper's reply for "+net.Arch, err)
	}
	if rep.Error != "" {
		if o.cfg.mode == BuildAlways {
			return "", fmt.Errorf("helper on the target: %s", safetext.Line(rep.Error))
		}
		return "", nil // this arch is copied
	}
	o.defined[sp.Name] = true
	dir, err := d.tr.Dir(ctx)
	if err != nil {
		return "", err
	}
	if rep.Path != dir+"/"+name {
		return "", o.fallBack("the helper wrote %q, not %s/%s", transport.Excerpt(rep.Path, 200), dir, name)
	}
	if !o.checked {
		data, err := d.write(ctx, net)
		if err != nil {
			return "", err
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != rep.SHA256 || int64(len(data)) != rep.Bytes {
			return "", o.fallBack("its model of %s (%d bytes, sha256 %.12s) differs from this build's export (%d bytes, %.12s): build the helper from this revision", net.Arch, rep.Bytes, rep.SHA256, len(data), got)
		}
		o.checked = true
	}
	o.traffic.Built++
	return rep.Path, nil
}

// sameNetwork reports whether sp rebuilds net from its arch string.
func sameNetwork(sp *model.Space, net *model.Network) bool {
	a, err := sp.ParseArch(net.Arch)
	if err != nil {
		return false
	}
	n, err := sp.Network(a)
	return err == nil && reflect.DeepEqual(n, net)
}

// setup finds the local helper for the target's architecture, pushes it
// unless the target's copy is the same build, and checks it runs there.
// Conditions that copying files avoids become a fallback (or, with
// "always", the error); a lost connection is returned as it is.
func (o *onDevice) setup(ctx context.Context, tr transport.Transport) error {
	res, err := tr.Run(ctx, []string{"uname", "-sm"})
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, devices.ErrTransient) {
			return err
		}
		return o.fallBack("uname -sm on the target: %v", err)
	}
	goos, goarch, err := targetPlatform(string(res.Stdout))
	if err != nil {
		return o.fallBack("%v", err)
	}
	local, err := o.localHelper(goos, goarch)
	if err != nil {
		return o.fallBack("%v", err)
	}
	build, err := ondevice.BuildID(local)
	if err != nil {
		return o.fallBack("helper %v", err)
	}
	o.remote = path.Join(o.cfg.dir, HelperName)
	if h, err := o.version(ctx, tr); err == nil && h.Build == build && h.Protocol == ondevice.Protocol {
		o.hello, o.state = h, helperReady
		o.publish()
		return nil
	} else if ctx.Err() != nil {
		return ctx.Err()
	}
	data, err := os.ReadFile(local)
	if err != nil {
		return o.fallBack("helper: %v", err)
	}
	if err := o.push(ctx, tr, data); err != nil {
		if ctx.Err() != nil || errors.Is(err, devices.ErrTransient) {
			return err
		}
		return o.fallBack("pushing the helper to %s: %v", o.remote, err)
	}
	o.traffic.Pushes++
	o.traffic.PushedBytes += int64(len(data))
	h, err := o.version(ctx, tr)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, devices.ErrTransient) {
			return err
		}
		return o.fallBack("running the helper at %s (a noexec directory? set helper_dir): %v", o.remote, err)
	}
	if h.Build != build || h.Protocol != ondevice.Protocol {
		return o.fallBack("the helper at %s reports build %.12s protocol %d after the push, want %.12s protocol %d", o.remote, h.Build, h.Protocol, build, ondevice.Protocol)
	}
	o.hello, o.state = h, helperReady
	o.publish()
	return nil
}

// push copies the helper into the run directory and moves it to helper_dir
// (a rename there, so a helper is never seen half-written).
func (o *onDevice) push(ctx context.Context, tr transport.Transport, data []byte) error {
	tmp, err := tr.Put(ctx, HelperName+".new", data)
	if err != nil {
		return err
	}
	for _, argv := range [][]string{
		{"mkdir", "-p", o.cfg.dir},
		{"chmod", "755", tmp},
		{"mv", "-f", tmp, o.remote + ".new"},
		{"mv", "-f", o.remote + ".new", o.remote},
	} {
		if _, err := tr.Run(ctx, argv); err != nil {
			return err
		}
	}
	return nil
}

// version runs the target's helper with --version.
func (o *onDevice) version(ctx context.Context, tr transport.Transport) (ondevice.Hello, error) {
	res, err := tr.Run(ctx, []string{o.remote, "helper", "--version"})
	o.traffic.ReplyBytes += int64(len(res.Stdout))
	if err != nil {
		return ondevice.Hello{}, err
	}
	return ondevice.ParseHello(bytes.TrimSpace(res.Stdout))
}

// targetPlatform maps `uname -sm` to Go's GOOS and GOARCH.
func targetPlatform(uname string) (goos, goarch string, err error) {
	f := strings.Fields(uname)
	if len(f) != 2 {
		return "", "", fmt.Errorf("uname -sm printed %q, want a system and a machine", transport.Excerpt(uname, 100))
	}
	goos = strings.ToLower(f[0])
	if goos != "linux" {
		return "", "", fmt.Errorf("the target runs %s; the helper runs on Linux and Android", safetext.Line(f[0]))
	}
	switch f[1] {
	case "aarch64", "arm64", "armv8l":
		goarch = "arm64"
	case "x86_64", "amd64":
		goarch = "amd64"
	case "armv7l", "armv7", "armv6l":
		goarch = "arm"
	case "i686", "i386":
		goarch = "386"
	case "riscv64":
		goarch = "riscv64"
	default:
		return "", "", fmt.Errorf("the target's machine %q has no Go architecture here", safetext.Line(f[1]))
	}
	if f[1] == "armv8l" {
		goarch = "arm" // a 32-bit userland on a 64-bit core
	}
	return goos, goarch, nil
}

// localHelper is the local helper binary for the target: the helper key
// with {goos} and {goarch} filled in, or this executable when it is a
// CGO_ENABLED=0 build; its Go build info must name the target's platform.
func (o *onDevice) localHelper(goos, goarch string) (string, error) {
	p := strings.NewReplacer("{goos}", goos, "{goarch}", goarch).Replace(o.cfg.local)
	if p == "" {
		exe, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("no helper set and this executable cannot be found: %v", err)
		}
		if bi, err := buildinfo.ReadFile(exe); err != nil || setting(bi, "CGO_ENABLED") != "0" {
			return "", fmt.Errorf("no helper set and this blockprof is not a CGO_ENABLED=0 build: set helper = \"PATH\" to `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -o PATH .`", goos, goarch)
		}
		p = exe
	}
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("helper %s: no such file: build it with `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -o %s .`", p, goos, goarch, p)
	}
	bi, err := buildinfo.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("helper %s: not a Go executable: %v", p, err)
	}
	hos, harch := setting(bi, "GOOS"), setting(bi, "GOARCH")
	if harch != goarch || (hos != "linux" && hos != "android") {
		return "", fmt.Errorf("helper %s is built for %s/%s, the target is %s/%s: build one with `CGO_ENABLED=0 GOOS=%s GOARCH=%s go build -o PATH .`", p, hos, harch, goos, goarch, goos, goarch)
	}
	return p, nil
}

func setting(bi *buildinfo.BuildInfo, key string) string {
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// start starts the helper on the target with the run directory and reads
// its hello.
func (o *onDevice) start(ctx context.Context, tr transport.Transport) error {
	dir, err := tr.Dir(ctx)
	if err != nil {
		return err
	}
	pctx, stop := context.WithCancel(context.Background())
	p, err := tr.Start(pctx, []string{o.remote, "helper", "--dir", dir})
	if err != nil {
		stop()
		return err
	}
	o.proc, o.stop, o.rd, o.defined = p, stop, bufio.NewReaderSize(p.Stdout, 64<<10), map[string]bool{}
	line, err := o.readLine(ctx)
	if err != nil {
		return err
	}
	h, err := ondevice.ParseHello(line)
	if err != nil {
		return err
	}
	if h.Build != o.hello.Build || h.Protocol != ondevice.Protocol {
		return fmt.Errorf("the running helper reports build %.12s protocol %d, want %.12s protocol %d", h.Build, h.Protocol, o.hello.Build, ondevice.Protocol)
	}
	return nil
}

// failed handles a helper process that could not start, ended or did not
// answer: it is stopped; a cancelled ctx or a lost connection is returned
// as it is (the next arch starts it again), anything else falls back.
func (o *onDevice) failed(ctx context.Context, what string, err error) error {
	tail := ""
	if o.proc != nil {
		tail = strings.TrimSpace(o.proc.Stderr())
	}
	o.stopProc()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, devices.ErrTransient) {
		return err
	}
	if tail != "" {
		return o.fallBack("%s: %v: %s", what, err, safetext.Escape(transport.Excerpt(tail, 300)))
	}
	return o.fallBack("%s: %v", what, err)
}

// exchange sends one request and reads its reply. When ctx ends first the
// helper is killed (and started again for the next arch).
func (o *onDevice) exchange(ctx context.Context, req ondevice.Request) (ondevice.Reply, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return ondevice.Reply{}, err
	}
	b = append(b, '\n')
	if _, err := o.proc.Stdin.Write(b); err != nil {
		return ondevice.Reply{}, err
	}
	o.traffic.RequestBytes += int64(len(b))
	line, err := o.readLine(ctx)
	if err != nil {
		return ondevice.Reply{}, err
	}
	return ondevice.ParseReply(line)
}

// readLine reads one line from the helper; when ctx ends first the helper
// is killed, which ends the read.
func (o *onDevice) readLine(ctx context.Context) ([]byte, error) {
	type result struct {
		line []byte
		err  error
	}
	ch := make(chan result, 1)
	rd := o.rd
	go func() {
		var buf []byte
		for {
			chunk, isPrefix, err := rd.ReadLine()
			buf = append(buf, chunk...)
			if err != nil || !isPrefix || len(buf) > ondevice.MaxLine {
				ch <- result{buf, err}
				return
			}
		}
	}()
	select {
	case r := <-ch:
		o.traffic.ReplyBytes += int64(len(r.line)) + 1
		if r.err == nil && len(r.line) > ondevice.MaxLine {
			r.err = fmt.Errorf("a line over %d bytes", ondevice.MaxLine)
		}
		return r.line, r.err
	case <-ctx.Done():
		o.stopProc()
		<-ch
		return nil, ctx.Err()
	}
}

// stopProc kills the helper process, if any.
func (o *onDevice) stopProc() {
	if o.proc == nil {
		return
	}
	o.proc.Kill()
	o.stop()
	o.proc, o.rd, o.stop = nil, nil, nil
}

// close ends the helper process.
func (o *onDevice) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.stopProc()
}
