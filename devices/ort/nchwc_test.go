package ort

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model"
	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// TestPrelaidIsWhatORTRuns: ONNX Runtime, at the device's optimisation
// level, runs the same graph for a model exported plain and for the same
// model pre-laid in its NCHWc form (prelayNCHWc): the same nodes with the
// same attributes, each fed by the same kinds of node, and initializers of
// the same shapes. Checked on the smallest and largest net of every space
// and on random nets of each at every resolution (other depths, kernels,
// expansions, SE and residual patterns).
func TestPrelaidIsWhatORTRuns(t *testing.T) {
	rt := testRuntime(t)
	block := nchwcBlock()
	if block == 0 {
		// The device writes plain models on such a CPU (TestDevicePrelays).
		t.Skip("skipping: the pre-layout is for x86-64 CPUs with AVX2 (ONNX Runtime's NCHWc block 8, or 16 with AVX-512)")
	}
	type net struct {
		name string
		net  *model.Network
	}
	var nets []net
	for _, e := range modeltest.Extremes(t) {
		nets = append(nets, net{e.Name(), e.Network(t)})
	}
	ss := modeltest.Spaces(t)
	rng := model.NewRand(11)
	for _, name := range ss.Names() {
		sp, err := ss.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, res := range sp.Resolutions {
			n, err := sp.Network(sp.Sample(rng, res))
			if err != nil {
				t.Fatal(err)
			}
			nets = append(nets, net{fmt.Sprintf("%s/random-%d", name, res), n})
		}
	}
	for _, n := range nets {
		t.Run(n.name, func(t *testing.T) {
			var graphs [2]string
			for i, prelay := range []bool{false, true} {
				opts := onnx.Options{Seed: 1, FoldBN: true}
				if prelay {
					opts.Rewrite = prelaid(block)
				}
				data, err := onnx.Export(n.net, opts)
				if err != nil {
					t.Fatal(err)
				}
				if got := strings.Contains(string(data), nchwcDomain); got != prelay {
					t.Fatalf("pre-laid %v: NCHWc ops in the model: %v", prelay, got)
				}
				graphs[i] = ranGraph(t, rt, data, nil)
			}
			if graphs[0] != graphs[1] {
				t.Errorf("ONNX Runtime runs another graph for the pre-laid model (- plain only, + pre-laid only):\n%s", lineDiff(graphs[0], graphs[1]))
			}
		})
	}
}

// TestPrelayRefuses: a graph the pre-layout cannot rewrite as ONNX Runtime
// would is refused with errNotPrelaid and left as it was.
func TestPrelayRefuses(t *testing.T) {
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	n, err := sp.Network(sp.MinArch(sp.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	m, err := onnx.Build(n, onnx.Options{Seed: 1, FoldBN: true})
	if err != nil {
		t.Fatal(err)
	}
	// A conv of 20 output channels (ONNX Runtime's padding of channels
	// that are not multiples of 8 is not what the pre-layout writes).
	for _, init := range m.Graph.Initializer {
		if init.GetName() == "stem.conv.weight" {
			init.Dims[0] = 20
		}
	}
	before := len(m.Graph.Node)
	if err := prelayNCHWc(m, nil, 8); !errors.Is(err, errNotPrelaid) {
		t.Fatalf("prelayNCHWc = %v, want errNotPrelaid", err)
	}
	if len(m.Graph.Node) != before || len(m.OpsetImport) != 1 {
		t.Errorf("a refused graph was changed: %d nodes (had %d), %d opset imports", len(m.Graph.Node), before, len(m.OpsetImport))
	}
}

// lineDiff lists the lines of a that b lacks (-) and of b that a lacks (+),
// as multisets.
func lineDiff(a, b string) string {
	count := map[string]int{}
	for _, l := range strings.Split(a, "\n") {
		count[l]++
	}
	for _, l := range strings.Split(b, "\n") {
		count[l]--
	}
	var out []string
	for l, n := range count {
		for ; n > 0; n-- {
			out = append(out, "- "+l)
		}
		for ; n < 0; n++ {
			out = append(out, "+ "+l)
		}
	}
	slices.Sort(out)
	return strings.Join(out, "\n")
}

// TestPrelayer: a space is checked once; a failed check leaves it plain
// with its reason; a check cut short by the context decides nothing; a
// device whose settings exclude the pre-layout never checks.
func TestPrelayer(t *testing.T) {
	net := func(space string) *model.Network { return &model.Network{Space: space} }
	ctx := context.Background()
	calls := 0
	check := func(err error) func() error {
		return func() error { calls++; return err }
	}
	var off prelayer
	if off.use(ctx, net("a"), check(nil)) || calls != 0 {
		t.Fatalf("a device with the pre-layout off used it or checked (%d calls)", calls)
	}
	p := prelayer{block: 8}
	bad := errors.New("another graph")
	for _, c := range []struct {
		space string
		err   error
		want  bool
		calls int
	}{
		{"a", nil, true, 1},
		{"a", bad, true, 1}, // checked already: not again
		{"b", bad, false, 2},
		{"b", nil, false, 2},
	} {
		if got := p.use(ctx, net(c.space), check(c.err)); got != c.want || calls != c.calls {
			t.Errorf("use(%s) = %v after %d checks, want %v after %d", c.space, got, calls, c.want, c.calls)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if p.use(cancelled, net("c"), check(context.Canceled)) {
		t.Error("a cancelled check pre-lays")
	}
	st := p.state()
	if _, decided := st["c"]; decided || st["a"] != nil || !errors.Is(st["b"], bad) {
		t.Errorf("state() = %v: want a pre-laid, b plain (its reason), c undecided", st)
	}
}

// TestDevicePrelays: the device at level all on a CPU whose NCHWc block it
// pre-lays in (nchwcBlock: 8 or 16) checks the space of the first net it measures and then pre-lays its
// models; at another level it does not pre-lay.
func TestDevicePrelays(t *testing.T) {
	for _, opt := range []string{"all", "extended"} {
		t.Run(opt, func(t *testing.T) {
			cfg := devices.Config{Name: "cpu", Kind: "ort", Threads: 1, Optimization: opt, Warmup: 1, Repeat: 2, MaxRepeat: 2}
			d := testDevice(t, cfg, nil)
			if _, err := d.Measure(context.Background(), smallNet(t)); err != nil {
				t.Fatal(err)
			}
			on, spaces := d.Prelaid()
			if want := opt == "all" && nchwcBlock() > 0; on != want {
				t.Fatalf("pre-layout on = %v, want %v", on, want)
			}
			if !on {
				if len(spaces) != 0 {
					t.Errorf("spaces checked with the pre-layout off: %v", spaces)
				}
				return
			}
			if err, ok := spaces["ofa-mbv3-w1.0"]; !ok || err != nil {
				t.Errorf("ofa-mbv3-w1.0: checked %v, reason %v: want checked and pre-laid", ok, err)
			}
		})
	}
}

// TestPassedChecks: a check that passed is remembered in its directory
// under its key; a directory or a link under that name is not a pass; no
// directory remembers nothing.
func TestPassedChecks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "prelay")
	p := passedChecks{dir}
	if p.has("k1") {
		t.Fatal("an empty cache has a pass")
	}
	p.add("k1")
	if !p.has("k1") || p.has("k2") {
		t.Fatalf("after add(k1): has(k1) = %v, has(k2) = %v", p.has("k1"), p.has("k2"))
	}
	if err := os.Mkdir(filepath.Join(dir, "k3"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(dir, "k1"), filepath.Join(dir, "k4")); err != nil {
		t.Fatal(err)
	}
	if p.has("k3") || p.has("k4") {
		t.Error("a directory or a link counts as a pass")
	}
	var none passedChecks
	none.add("k1")
	if none.has("k1") {
		t.Error("a cache without a directory remembered a pass")
	}
}

// TestPrelayCheckRemembered: a check that passed is not run again (a
// remembered one builds no session, so a cancelled context does not stop
// it) for the same net and settings, whatever else the weight file holds;
// another net or other settings are checked.
func TestPrelayCheckRemembered(t *testing.T) {
	rt := testRuntime(t)
	block := nchwcBlock()
	if block == 0 {
		t.Skip("skipping: the pre-layout is for x86-64 CPUs with AVX2")
	}
	passed := passedChecks{t.TempDir()}
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	small, err := sp.Network(sp.MinArch(sp.Resolutions[0]))
	if err != nil {
		t.Fatal(err)
	}
	big, err := sp.Network(sp.MaxArch(sp.Resolutions[len(sp.Resolutions)-1]))
	if err != nil {
		t.Fatal(err)
	}
	eo := onnx.Options{Seed: weightSeed, FoldBN: true}
	w := testWorkDir(t)
	if err := w.samePrelaid(cancelled, rt, small, eo, cpuOptions(), passed, block); !errors.Is(err, context.Canceled) {
		t.Fatalf("a check never passed, context cancelled: %v, want context.Canceled", err)
	}
	if err := w.samePrelaid(ctx, rt, small, eo, cpuOptions(), passed, block); err != nil {
		t.Fatal(err)
	}
	if n, _ := os.ReadDir(passed.dir); len(n) != 1 {
		t.Fatalf("%d passes remembered, want 1", len(n))
	}
	// Another work directory whose weight file first took another net:
	// the small net's weights are at other offsets there.
	w2 := testWorkDir(t)
	if _, err := onnx.WriteExternal(io.Discard, big, eo, w2.weights); err != nil {
		t.Fatal(err)
	}
	other := cpuOptions()
	other.Batch = 2
	for _, c := range []struct {
		name string
		w    *workDir
		net  *model.Network
		so   Options
		want error
	}{
		{"same", w, small, cpuOptions(), nil},
		{"same, other weight file", w2, small, cpuOptions(), nil},
		{"other net", w, big, cpuOptions(), context.Canceled},
		{"other settings", w, small, other, context.Canceled},
	} {
		if err := c.w.samePrelaid(cancelled, rt, c.net, eo, c.so, passed, block); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
