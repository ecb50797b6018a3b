package engine

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/engine/config"
	"blockprof/engine/store"
	"blockprof/model"
)

// fake is a device for tests: latency proportional to MACs, an optional
// wall delay per measurement, drift and injected failures.
type fake struct {
	name  string
	local bool
	delay time.Duration
	// drift multiplies the latency by (1+drift)^call.
	drift float64
	// fail, if set, may fail call n (1-based) of arch.
	fail func(n int, arch string) error
	// block makes Measure wait for its context.
	block bool
	// info, if set, is what Info reports (with the fake's name) instead of
	// a simulated device.
	info *devices.Info
	// prepareMs and probeMs go into every measurement.
	prepareMs float64
	probeMs   []float64

	mu    sync.Mutex
	calls []string
}

func (f *fake) Name() string { return f.name }
func (f *fake) Info() devices.Info {
	if f.info != nil {
		i := *f.info
		i.Name = f.name
		return i
	}
	return devices.Info{Name: f.name, Kind: "sim", Provenance: devices.Simulated, Label: "simulated", Local: f.local}
}
func (f *fake) Close() error { return nil }

func (f *fake) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	f.mu.Lock()
	f.calls = append(f.calls, net.Arch)
	n := len(f.calls)
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(n, net.Arch); err != nil {
			return devices.Measurement{}, err
		}
	}
	if f.block {
		<-ctx.Done()
		return devices.Measurement{}, ctx.Err()
	}
	if f.delay > 0 {
		t := time.NewTimer(f.delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return devices.Measurement{}, ctx.Err()
		}
	}
	ms := float64(net.MACs()) / 1e8 * math.Pow(1+f.drift, float64(n))
	m := devices.Measurement{SamplesMs: []float64{ms * 0.98, ms, ms * 1.03}, Warmup: 2, Mode: "fake", PrepareMs: f.prepareMs}
	if f.probeMs != nil {
		m.ProbeMs, m.ProbeEvery = f.probeMs, len(m.SamplesMs)
	}
	return m, nil
}

func (f *fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

// testSpace is ofa-mbv3-w1.0 from the repository's config.toml.
func testSpace(t testing.TB) *model.Space {
	t.Helper()
	sp, err := loadTestSpace()
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func loadTestSpace() (*model.Space, error) {
	data, err := os.ReadFile("../config.toml")
	if err != nil {
		return nil, err
	}
	cfg, err := config.Parse(data, "config.toml")
	if err != nil {
		return nil, err
	}
	return cfg.Spaces.Get("ofa-mbv3-w1.0")
}

func testPlan(t testing.TB, sp *model.Space, uniform, perLocation int) ([]model.PlanItem, model.PlanSpec) {
	t.Helper()
	ps := model.PlanSpec{Uniform: uniform, PerLocation: perLocation, Resolution: 160, Seed: 3}
	plan, err := sp.Plan(ps)
	if err != nil {
		t.Fatal(err)
	}
	return plan, ps
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	if path == "" {
		path = filepath.Join(t.TempDir(), "blockprof.db")
	}
	st, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func targets(devs ...*fake) []Target {
	out := make([]Target, len(devs))
	for i, d := range devs {
		out[i] = Target{Device: d, Config: devices.Config{Name: d.name, Kind: "sim"}}
	}
	return out
}

// fastOptions keep retries and back-off short.
func fastOptions() Options {
	return Options{Retries: 2, Backoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxFailures: 3, Timeout: 10 * time.Second}
}

// collect gathers a subscription's events until it closes.
func collect(ch <-chan Event) func() []Event {
	var mu sync.Mutex
	var evs []Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range ch {
			mu.Lock()
			evs = append(evs, e)
			mu.Unlock()
		}
	}()
	return func() []Event {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return evs
	}
}

// lastProgress is each device's last Progress among events.
func lastProgress(evs []Event) map[string]Progress {
	out := map[string]Progress{}
	for _, e := range evs {
		if p, ok := e.(Progress); ok {
			out[p.Device] = p
		}
	}
	return out
}

// planCounts counts successful plan measurements per device and arch.
func planCounts(t testing.TB, st *store.Store) map[string]map[string]int {
	t.Helper()
	out := map[string]map[string]int{}
	seen := map[int64]bool{} // a record per plan role: count measurements
	for r, err := range st.Records(context.Background(), store.Query{Kind: store.KindPlan}) {
		if err != nil {
			t.Fatal(err)
		}
		if seen[r.ID] {
			continue
		}
		seen[r.ID] = true
		if out[r.Device] == nil {
			out[r.Device] = map[string]int{}
		}
		out[r.Device][r.Arch]++
	}
	return out
}

func distinct(plan []model.PlanItem) []string {
	seen := map[string]bool{}
	var out []string
	for _, p := range plan {
		c := p.Arch.String()
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// goroutines waits for the goroutine count to fall back to before and
// reports the stacks if it does not.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Errorf("%d goroutines left over (before %d):\n%s", n-before, before, buf)
	}
}

func errorsOf(evs []Event, device string) []DeviceError {
	var out []DeviceError
	for _, e := range evs {
		if de, ok := e.(DeviceError); ok && de.Device == device {
			out = append(out, de)
		}
	}
	return out
}

func describe(evs []Event) string {
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%T %+v\n", e, e)
	}
	return sb.String()
}
