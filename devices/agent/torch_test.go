package agent_test

// End-to-end tests of torch_agent.py through the agent device: on this
// machine's CPU with Debian's python3-torch (skipped with a message where
// /usr/bin/python3 cannot import torch), locally, into the store through
// the engine, and over ssh to a loopback sshd.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/agent"
	"blockprof/devices/transport"
	"blockprof/devices/transport/sshtest"
	"blockprof/engine"
	"blockprof/engine/store"
	"blockprof/model"
)

var (
	torchOnce sync.Once
	torchErr  error
)

// torchPython is a python3 that imports torch: $BLOCKPROF_TORCH_PYTHON,
// else /usr/bin/python3 (Debian's python3-torch).
func torchPython(t testing.TB) string {
	t.Helper()
	py := os.Getenv("BLOCKPROF_TORCH_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	torchOnce.Do(func() {
		out, err := exec.Command(py, "-c", "import torch").CombinedOutput()
		if err != nil {
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			torchErr = fmt.Errorf("%s; %v", lines[len(lines)-1], err)
		}
	})
	if torchErr != nil {
		t.Skipf("%s cannot import torch (%v): install Debian's python3-torch (apt-get install python3-torch) or set BLOCKPROF_TORCH_PYTHON; skipping the torch agent test", py, torchErr)
	}
	return py
}

func loadSpaces(t testing.TB) *model.Spaces {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// torchConfig is a CPU agent device running the shipped script with py.
func torchConfig(py string) devices.Config {
	return devices.Config{Name: "torch-cpu", Kind: "agent", Command: []string{py, "{agent}"}, Target: "cpu",
		Warmup: 1, Repeat: 3, MaxRepeat: 3, Threads: 1, Timeout: "2m"}
}

func torchDevice(t testing.TB, tr transport.Transport, cfg devices.Config) *agent.Device {
	t.Helper()
	d, err := agent.New(cfg, tr, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")), agent.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// TestTorchCounts checks that the network torch_agent.py builds from the
// JSON description has exactly the MACs and parameters model.Network
// counts (and every layer's output shape, which the agent checks), for the
// smallest, the largest and random archs of every space.
func TestTorchCounts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a slow torch agent test")
	}
	py := torchPython(t)
	ss := loadSpaces(t)
	d := torchDevice(t, transport.NewLocal(), torchConfig(py))
	ctx := context.Background()
	rng := model.NewRand(4)
	for _, name := range ss.Names() {
		sp, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := sp.Resolutions[0], sp.Resolutions[len(sp.Resolutions)-1]
		archs := []model.Arch{sp.MinArch(lo), sp.MaxArch(hi), sp.Sample(rng, sp.Resolutions[rng.IntN(len(sp.Resolutions))])}
		for _, a := range archs {
			net, err := sp.Network(a)
			if err != nil {
				t.Fatal(err)
			}
			c, err := d.Count(ctx, net)
			if err != nil {
				t.Fatalf("%s: %v", a, err)
			}
			if c.MACs != net.MACs() || c.Params != net.Params() || c.Layers != len(net.Layers) {
				t.Errorf("%s: torch counts %d MACs, %d params, %d layers; model.Network %d, %d, %d",
					a, c.MACs, c.Params, c.Layers, net.MACs(), net.Params(), len(net.Layers))
			}
		}
	}
	if d.Starts() != 1 {
		t.Errorf("%d agent starts, want 1", d.Starts())
	}
}

// TestTorchRejectsBadNetworks: a description the agent cannot build is an
// error reply, and the agent stays up.
func TestTorchRejectsBadNetworks(t *testing.T) {
	py := torchPython(t)
	ss := loadSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	d := torchDevice(t, transport.NewLocal(), torchConfig(py))
	ctx := context.Background()
	bad := *net
	bad.Layers = append([]model.Layer(nil), net.Layers...)
	bad.Layers[3].OutH++ // the description lies about a shape
	if _, err := d.Count(ctx, &bad); err == nil || !strings.Contains(err.Error(), "output shape") {
		t.Errorf("wrong shape: %v", err)
	}
	bad.Layers[3].OutH--
	bad.Layers[2].Kind = "transformer"
	if _, err := d.Measure(ctx, &bad); err == nil || !strings.Contains(err.Error(), "unknown kind") || errors.Is(err, devices.ErrTransient) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := d.Measure(ctx, net); err != nil {
		t.Fatal(err)
	}
	if d.Starts() != 1 {
		t.Errorf("error replies restarted the agent (%d starts)", d.Starts())
	}
	// This machine's torch has no CUDA (else the test means nothing): a
	// cuda device fails its check and its requests, clearly.
	if h := d.Hello(); h.CUDA {
		t.Skip("torch sees a GPU here; the no-CUDA checks do not apply")
	}
	cfg := torchConfig(py)
	cfg.Name, cfg.Target, cfg.Mode = "torch-cuda", "cuda", "graph"
	g := torchDevice(t, transport.NewLocal(), cfg)
	if _, err := g.Check(ctx); err == nil || !strings.Contains(err.Error(), "cannot time on cuda") {
		t.Errorf("Check of a cuda agent without CUDA: %v", err)
	}
	if _, err := g.Measure(ctx, net); err == nil || !strings.Contains(err.Error(), "no CUDA device") {
		t.Errorf("Measure on cuda without CUDA: %v", err)
	}
}

// TestTorchEngineStore profiles a small plan on the CPU through the agent
// device, the engine and the store.
func TestTorchEngineStore(t *testing.T) {
	py := torchPython(t)
	ss := loadSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	cfg := torchConfig(py)
	d := torchDevice(t, transport.NewLocal(), cfg)
	ctx := context.Background()
	info, err := d.Check(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Runtime != "pytorch" || info.Version == "" || info.Hardware == "" || info.Threads != 1 || info.Provenance != devices.Measured {
		t.Errorf("Check info %+v", info)
	}
	plan := samplePlan(sp, 3)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "profile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := engine.Start(ctx, engine.Spec{Space: sp, Plan: plan, Targets: []engine.Target{{Device: d, Config: cfg}}, Store: st,
		Options: engine.Options{Retries: 1, Backoff: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	sum := run.Wait()
	if len(sum.Devices) != 1 || sum.Devices[0].Measured != len(plan) || sum.Devices[0].Errors != 0 {
		t.Fatalf("run summary %+v", sum)
	}
	recs, err := st.Query(ctx, store.Query{Device: cfg.Name, Samples: true})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, plan)
}

func samplePlan(sp *model.Space, n int) []model.PlanItem {
	rng := model.NewRand(11)
	var plan []model.PlanItem
	for i := 0; i < n; i++ {
		plan = append(plan, model.PlanItem{Arch: sp.Sample(rng, 160)})
	}
	return plan
}

func checkRecords(t *testing.T, recs []store.Record, plan []model.PlanItem) {
	t.Helper()
	if len(recs) != len(plan) {
		t.Fatalf("%d stored measurements, want %d", len(recs), len(plan))
	}
	want := map[string]bool{}
	for _, p := range plan {
		want[p.Arch.String()] = true
	}
	for _, r := range recs {
		if !want[r.Arch] || r.Provenance != devices.Measured || r.Mode != "cpu-eager" || r.N != 3 || len(r.SamplesMs) != 3 ||
			r.Median <= 0 || r.Warmup != 1 || r.Err != "" {
			t.Errorf("stored %+v", r)
		}
	}
}

// TestSSHTorchAgent runs the torch agent on the loopback sshd (the script
// copied over with scp), profiles a plan through the engine, drops the
// connection after the first measurement, and checks that the run goes on:
// every arch is stored, the agent was restarted.
func TestSSHTorchAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping a slow torch agent test")
	}
	py := torchPython(t)
	srv := sshtest.Start(t)
	ss := loadSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	tr, err := transport.NewSSH(srv.Options())
	if err != nil {
		t.Fatal(err)
	}
	cfg := torchConfig(py)
	cfg.Name, cfg.Transport, cfg.Host, cfg.Port, cfg.User = "torch-ssh", "ssh", srv.Host, srv.Port, srv.User
	d := torchDevice(t, tr, cfg)
	ctx := context.Background()
	info, err := d.Check(ctx)
	if err != nil {
		t.Fatalf("%v\nsshd log:\n%s", err, srv.Log())
	}
	if info.Runtime != "pytorch" || !strings.HasPrefix(info.Host, "ssh ") || info.Local {
		t.Errorf("Check info %+v", info)
	}

	plan := samplePlan(sp, 4)
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "profile.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := engine.Prepare(ctx, engine.Spec{Space: sp, Plan: plan, Targets: []engine.Target{{Device: d, Config: cfg}}, Store: st,
		Options: engine.Options{Retries: 3, Backoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	events := run.Subscribe(ctx)
	if err := run.Start(ctx); err != nil {
		t.Fatal(err)
	}
	dropped := false
	var errs []engine.DeviceError
	for ev := range events {
		switch e := ev.(type) {
		case engine.Measured:
			if !dropped {
				dropped = true
				if n := srv.DropConnections(); n == 0 {
					t.Error("no server processes to kill")
				}
			}
		case engine.DeviceError:
			errs = append(errs, e)
		}
		if _, ok := ev.(engine.RunDone); ok {
			break
		}
	}
	sum := run.Wait()
	for _, e := range errs {
		t.Logf("device error (attempt %d, transient %v, final %v): %v", e.Attempt, e.Transient, e.Final, e.Err)
		if e.Final || !e.Transient {
			t.Errorf("the dropped connection cost an arch: %v", e.Err)
		}
	}
	if sum.Devices[0].Measured != len(plan) {
		t.Fatalf("measured %d of %d archs: %+v", sum.Devices[0].Measured, len(plan), sum.Devices[0])
	}
	if d.Starts() < 2 {
		t.Errorf("the agent started %d times; the drop should have restarted it", d.Starts())
	}
	recs, err := st.Query(ctx, store.Query{Device: cfg.Name, Samples: true})
	if err != nil {
		t.Fatal(err)
	}
	checkRecords(t, recs, plan)
}

// TestSSHDropMidRequest drops the connection while the agent is working
// on a request (a stand-in agent that signals it got the request): the
// measurement fails with a transient error naming the lost connection,
// and the next one starts a new agent over a new connection.
func TestSSHDropMidRequest(t *testing.T) {
	srv := sshtest.Start(t)
	tr, err := transport.NewSSH(srv.Options())
	if err != nil {
		t.Fatal(err)
	}
	script, _ := filepath.Abs("testdata/fake_agent.sh")
	mark := t.TempDir()
	cfg := devices.Config{Name: "fake-ssh", Kind: "agent", Command: []string{"sh", script, "ok", mark}, Timeout: "60s"}
	d := torchDevice(t, tr, cfg)
	ss := loadSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.Measure(ctx, net); err != nil {
		t.Fatalf("%v\nsshd log:\n%s", err, srv.Log())
	}
	slow := *net
	slow.Arch = "slow"
	done := make(chan error, 1)
	go func() {
		_, err := d.Measure(ctx, &slow)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(mark, "slow")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the agent never got the slow request")
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.DropConnections()
	select {
	case err := <-done:
		if !errors.Is(err, devices.ErrTransient) || !errors.Is(err, transport.ErrDisconnected) {
			t.Fatalf("dropped mid-request: %v, want devices.ErrTransient and transport.ErrDisconnected", err)
		}
		t.Logf("the drop: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Measure did not notice the dropped connection within 30s")
	}
	m, err := d.Measure(ctx, net)
	if err != nil || len(m.SamplesMs) == 0 {
		t.Fatalf("after the drop: %v", err)
	}
	if d.Starts() != 2 {
		t.Errorf("%d agent starts, want 2", d.Starts())
	}
}

// TestTorchBatchChannelsLast times a batch of 2 in channels-last memory
// format on the CPU.
func TestTorchBatchChannelsLast(t *testing.T) {
	py := torchPython(t)
	sp, _ := loadSpaces(t).Get("ofa-mbv3")
	net, err := sp.Network(sp.MinArch(160))
	if err != nil {
		t.Fatal(err)
	}
	cfg := torchConfig(py)
	cfg.Batch = 2
	d, err := agent.New(cfg, transport.NewLocal(), nil, agent.Options{ChannelsLast: true, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if r := d.Request(); r.Batch != 2 || !r.ChannelsLast || r.Seed != 3 {
		t.Errorf("request settings %+v", r)
	}
	m, err := d.Measure(context.Background(), net)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.SamplesMs) != 3 || m.Mode != "cpu-eager" || m.Warmup != 1 {
		t.Errorf("measurement %+v", m)
	}
	if info := d.Info(); info.Batch != 2 || !strings.Contains(info.Mode, "channels-last") {
		t.Errorf("info %+v", info)
	}
}
