package config_test

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/devices/sim"
	"blockprof/engine/accuracy"
	"blockprof/engine/config"
	"blockprof/model"
)

// TestHostileInputs runs hostile inputs through the parsers of outside
// input (config.toml, the spaces in it, reduced-space TOML, architectures,
// accuracy tables): the hand-written fixtures listed in
// testdata/hostile/manifest.txt (the audit's of issue 13 among them) and
// generated variants that put hostile numbers into every numeric key of a
// config. Each must be refused with an error that names the file, the line
// and the key, or be accepted only where the documented bound allows it,
// and then be usable. A panic fails the test.
//
//	go test -count=1 -run TestHostileInputs -v ./engine/config
func TestHostileInputs(t *testing.T) {
	embedded, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	spaces, err := model.ParseSpaces(embedded, config.EmbeddedName)
	if err != nil {
		t.Fatal(err)
	}
	var counts struct{ fixtures, generated, rejected, accepted int }
	for _, c := range readManifest(t) {
		t.Run(c.file, func(t *testing.T) {
			counts.fixtures++
			if runFixture(t, c, embedded, spaces) {
				counts.accepted++
			} else {
				counts.rejected++
			}
		})
	}
	dir := t.TempDir()
	for i, g := range generated() {
		t.Run(g.name, func(t *testing.T) {
			counts.generated++
			path := filepath.Join(dir, fmt.Sprintf("gen%03d.toml", i))
			if err := os.WriteFile(path, []byte(g.text), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := load(t, path, embedded)
			if !g.ok {
				counts.rejected++
				if g.altLine > 0 && err != nil && strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d:", path, g.altLine)) {
					checkRefusal(t, err, path, g.altLine, g.altKey)
					return
				}
				checkRefusal(t, err, path, g.line, g.key)
				return
			}
			counts.accepted++
			if err != nil {
				t.Fatalf("refused %s = %s, within its bound: %v", g.key, g.value, err)
			}
			checkUsable(t, cfg)
		})
	}
	total := counts.fixtures + counts.generated
	// A crash (a panic), a silent accept or a refusal that does not name
	// the file, line and key has failed its subtest above.
	t.Logf("hostile inputs: %d (%d fixtures, %d generated): %d to be refused naming the key, %d to be accepted within bounds",
		total, counts.fixtures, counts.generated, counts.rejected, counts.accepted)
	if total < 150 {
		t.Errorf("only %d hostile inputs", total)
	}
}

// load parses a config file, turning a panic into a test failure that
// names the input.
func load(t *testing.T, path string, embedded []byte) (cfg *config.Config, err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("crash on %s: %v", path, r)
		}
	}()
	return config.Load(path, embedded)
}

// checkRefusal: the error starts with FILE:LINE: (line > 0 when want is
// 0) and names the key, and it is safe to print.
func checkRefusal(t *testing.T, err error, file string, line int, key string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error naming %s", key)
	}
	msg := err.Error()
	prefix := fmt.Sprintf("%s:%d:", file, line)
	if line == 0 {
		rest, ok := strings.CutPrefix(msg, file+":")
		n, _, _ := strings.Cut(rest, ":")
		if l, err := strconv.Atoi(n); !ok || err != nil || l < 1 {
			t.Errorf("error %q names no line of %s", msg, file)
		}
	} else if !strings.HasPrefix(msg, prefix) {
		t.Errorf("error %q does not start with %q", msg, prefix)
	}
	// The TOML decoder's own errors (a number out of range, a type error)
	// name the key without array indices: devices.target_spread.
	bare := strings.NewReplacer(".1.", ".", "[1]", "", "[3]", "").Replace(key)
	if !strings.Contains(msg, key) && !strings.Contains(msg, bare) {
		t.Errorf("error %q does not name %s", msg, key)
	}
	if !safetext.Safe(msg) {
		t.Errorf("error %q is not safe to print", msg)
	}
}

// checkUsable: an accepted config's numbers lie within their bounds and
// it can be used: every space builds its largest network at every
// resolution, every device's protocol validates, sim devices open, the
// plan's size is within MaxPlanArchs.
func checkUsable(t *testing.T, cfg *config.Config) {
	t.Helper()
	for _, name := range cfg.Spaces.Names() {
		sp, _ := cfg.Spaces.Get(name)
		if err := sp.Validate(); err != nil {
			t.Fatalf("accepted space %s: %v", name, err)
		}
		for _, r := range sp.Resolutions {
			n, err := sp.Network(sp.MaxArch(r))
			if err != nil || n.MACs() <= 0 || n.Params() <= 0 {
				t.Fatalf("accepted space %s: largest network at %d: %v", name, r, err)
			}
		}
	}
	for _, d := range cfg.Devices {
		if err := d.Validate(); err != nil {
			t.Fatalf("accepted device %s: %v", d.Name, err)
		}
		p := d.Protocol()
		if err := p.Validate(); err != nil || p.MinRuns > devices.MaxRepeat || p.Warmup > devices.MaxWarmup {
			t.Fatalf("accepted device %s: protocol %+v: %v", d.Name, p, err)
		}
		if d.Kind == "sim" {
			dev, err := sim.Open(d)
			if err != nil {
				t.Fatalf("accepted sim device %s does not open: %v", d.Name, err)
			}
			dev.Close()
		}
	}
	sp, err := cfg.Spaces.Get(cfg.Plan.Space)
	if err != nil {
		t.Fatal(err)
	}
	if n := sp.PlanSize(cfg.PlanSpec()); n < 0 || n > model.MaxPlanArchs {
		t.Fatalf("accepted plan of %d archs", n)
	}
	s := cfg.Search
	if s.Initial < 1 || s.Children < 1 || s.Generations < 0 || int64(s.Initial)+int64(s.Children)*int64(s.Generations) > config.MaxSearchEvaluations || !(s.MutateProb > 0 && s.MutateProb <= 1) {
		t.Fatalf("accepted search %+v", s)
	}
}

// fixture is one line of testdata/hostile/manifest.txt.
type fixture struct {
	parser, file string
	line         int // 0: "-"
	want         string
}

func readManifest(t *testing.T) []fixture {
	f, err := os.Open("testdata/hostile/manifest.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []fixture
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		fs := strings.Fields(l)
		if len(fs) < 4 {
			t.Fatalf("manifest.txt:%d: want PARSER FILE LINE WANT", n)
		}
		c := fixture{parser: fs[0], file: fs[1], want: strings.Join(fs[3:], " ")}
		if fs[2] != "-" {
			if c.line, err = strconv.Atoi(fs[2]); err != nil {
				t.Fatalf("manifest.txt:%d: line %q", n, fs[2])
			}
		}
		out = append(out, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// runFixture parses one fixture with its parser and checks the outcome
// the manifest wants; it reports whether the input was accepted.
func runFixture(t *testing.T, c fixture, embedded []byte, spaces *model.Spaces) bool {
	path := filepath.Join("testdata", "hostile", c.file)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("crash on %s: %v", c.file, r)
		}
	}()
	ok := strings.HasPrefix(c.want, "ok")
	switch c.parser {
	case "config":
		cfg, err := config.Load(path, embedded)
		if ok {
			if err != nil {
				t.Fatal(err)
			}
			checkUsable(t, cfg)
			return true
		}
		checkRefusal(t, err, path, c.line, c.want+": ")
	case "reduced":
		r, err := model.ParseReduction(data, path, spaces)
		if ok {
			if err != nil {
				t.Fatal(err)
			}
			parent, _ := spaces.Get(r.Parent)
			sp, err := r.ApplyTo(parent)
			if err != nil || sp.Validate() != nil {
				t.Fatalf("accepted reduction does not apply: %v", err)
			}
			return true
		}
		checkRefusal(t, err, path, c.line, c.want+": ")
	case "arch":
		sp, _ := spaces.Get("ofa-mbv3")
		a, err := sp.ParseArchAny(string(data))
		if ok {
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sp.Network(a); err != nil {
				t.Fatal(err)
			}
			return true
		}
		if err == nil || !strings.Contains(err.Error(), c.want) || !safetext.Safe(err.Error()) {
			t.Fatalf("error %v, want one that names %q, safe to print", err, c.want)
		}
	case "jsonl", "csv":
		sp, _ := spaces.Get("ofa-mbv3-w1.0")
		tb, err := accuracy.ReadTable(path, sp)
		if ok {
			if err != nil {
				t.Fatal(err)
			}
			_, top1 := tb.Archs()
			for _, v := range top1 {
				if !(v >= 0 && v <= 100) {
					t.Fatalf("accepted top-1 %v", v)
				}
			}
			if fractions := strings.HasSuffix(c.want, "fractions"); fractions != (tb.Note() != "") {
				t.Fatalf("note %q; fractions %v", tb.Note(), fractions)
			}
			return true
		}
		checkRefusal(t, err, path, c.line, c.want)
	default:
		t.Fatalf("unknown parser %q", c.parser)
	}
	return false
}

// variant is one generated config: a hostile value for one key.
type variant struct {
	name, text, key, value string
	line                   int
	ok                     bool
	// altKey at altLine is the other place the value is written (a
	// bottleneck stem's ratios, which the TOML decoder reaches first).
	altKey  string
	altLine int
}

// bound is the documented range of a numeric key (docs/config-bounds.md),
// written out here rather than taken from the code's constants.
type bound struct {
	key      string  // the key as written in the TOML
	slot     string  // the template's {slot} the key's line goes into ("": {KEY})
	list     bool    // the value is written as a one-element list
	lo, hi   float64 // the range
	zero     bool    // 0 means the default and is allowed
	integer  bool    // only integer values are tried
	odd      bool    // kernels: odd only
	percents bool    // bottleneck ratios and expansions: whole percents
	also     float64 // another accepted value outside [lo, hi] (NaN: none)
}

// template is a config with {slots} for key lines; defaults fill the
// slots no variant uses. path is the key path of the varied key, with KEY
// for its name.
type template struct {
	name, text, path string
	defaults         map[string]string
	bounds           []bound
}

var none = math.NaN()

var templates = []template{
	{"device", "[[devices]]\nname = \"cpu\"\nkind = \"ort\"\nrepeat = 1\n{KEY}\n", "devices.1.KEY", nil, []bound{
		{key: "warmup", hi: 10000, zero: true, integer: true, also: none},
		{key: "max_repeat", lo: 1, hi: 100000, zero: true, integer: true, also: none},
		{key: "target_spread", hi: 1, zero: true, also: none},
		{key: "probe_every", hi: 10000, zero: true, integer: true, also: none},
		{key: "batch", lo: 1, hi: 4096, zero: true, integer: true, also: none},
		{key: "threads", hi: 1024, zero: true, integer: true, also: none},
		{key: "port", hi: 65535, zero: true, integer: true, also: none},
	}},
	{"device repeat", "[[devices]]\nname = \"cpu\"\nkind = \"ort\"\nmax_repeat = 100000\n{KEY}\n", "devices.1.KEY", nil, []bound{
		{key: "repeat", lo: 1, hi: 100000, zero: true, integer: true, also: none},
	}},
	{"sim", "[[devices]]\nname = \"npu\"\nkind = \"sim\"\n[devices.sim]\npreset = \"npu\"\n{KEY}\n", "devices.1.sim.KEY", nil, []bound{
		{key: "gmacs", hi: 1e7, zero: true, also: none},
		{key: "gbps", hi: 1e6, zero: true, also: none},
		{key: "overhead_us", hi: 1e6, zero: true, also: none},
		{key: "template", hi: 1024, zero: true, integer: true, also: none},
		{key: "pad_factor", hi: 1000, zero: true, also: none},
		{key: "noise", hi: 1, zero: true, also: none},
		{key: "bytes", hi: 8, zero: true, integer: true, also: none},
		{key: "seed", hi: math.MaxInt64, zero: true, integer: true, also: none},
	}},
	{"kernel factor", "[[devices]]\nname = \"npu\"\nkind = \"sim\"\nsim = { kernel_factor = { 7 = {KEY} } }\n", "devices.1.sim.kernel_factor", nil, []bound{
		{key: "kernel_factor", lo: 1e-300, hi: 1000, also: none},
	}},
	{"plan", "[plan]\n{KEY}\n", "plan.KEY", nil, []bound{
		{key: "uniform", hi: 200000, zero: true, integer: true, also: none},
		// ofa-mbv3 (the first embedded space) has 180 locations: 1111 × 180 ≤ 200,000.
		{key: "per_location", hi: 1111, zero: true, integer: true, also: none},
		{key: "reference_every", hi: 1e6, zero: true, integer: true, also: none},
		{key: "retries", hi: 100, zero: true, integer: true, also: none},
		{key: "max_failures", hi: 1e6, zero: true, integer: true, also: none},
		{key: "resolution", lo: 160, hi: 160, zero: true, integer: true, also: 224},
		{key: "seed", hi: math.MaxInt64, zero: true, integer: true, also: none},
	}},
	{"search", "[search]\n{KEY}\n", "search.KEY", nil, []bound{
		{key: "initial", lo: 1, hi: 100000, zero: true, integer: true, also: none},
		{key: "children", lo: 1, hi: 100000, zero: true, integer: true, also: none},
		{key: "generations", lo: 1, hi: 10000, zero: true, integer: true, also: none},
		{key: "mutate_prob", hi: 1, zero: true, also: none},
	}},
	{"mbconv space", mbconvSpace, "spaces.s.KEY", mbconvDefaults, []bound{
		{key: "width_mult", slot: "width_mult", hi: 4, zero: true, also: none},
		{key: "classes", slot: "classes", lo: 1, hi: 100000, zero: true, integer: true, also: none},
		{key: "resolutions", slot: "resolutions", list: true, lo: 32, hi: 1024, integer: true, also: none},
	}},
	{"mbconv stem", mbconvSpace, "spaces.s.stem.KEY", mbconvDefaults, []bound{
		{key: "width", slot: "stem.width", lo: 1, hi: 4096, integer: true, also: none},
		{key: "stride", slot: "stem.stride", lo: 1, hi: 4, zero: true, integer: true, also: none},
		{key: "first_block", slot: "stem.first_block", hi: 4096, zero: true, integer: true, also: none},
	}},
	{"mbconv unit", mbconvSpace, "spaces.s.units[1].KEY", mbconvDefaults, []bound{
		{key: "width", slot: "unit.width", lo: 1, hi: 4096, integer: true, also: none},
		{key: "stride", slot: "unit.stride", lo: 1, hi: 2, zero: true, integer: true, also: none},
		{key: "slots", slot: "unit.slots", lo: 3, hi: 16, zero: true, integer: true, also: none},
		{key: "depths", slot: "unit.depths", list: true, lo: 1, hi: 16, integer: true, also: none},
		{key: "kernels", slot: "unit.kernels", list: true, lo: 1, hi: 15, integer: true, odd: true, also: none},
		{key: "expands", slot: "unit.expands", list: true, lo: 1e-300, hi: 8, also: none},
	}},
	{"mbconv head", mbconvSpace, "spaces.s.head[1].KEY", mbconvDefaults, []bound{
		{key: "width", slot: "head.width", lo: 1, hi: 4096, integer: true, also: none},
	}},
	{"mbconv classifier", mbconvSpace, "spaces.s.head[3].KEY", mbconvDefaults, []bound{
		{key: "width", slot: "linear.width", lo: 1, hi: 100000, integer: true, also: none},
	}},
	{"bottleneck stem", bottleneckSpace, "spaces.r.stem.KEY", bottleneckDefaults, []bound{
		{key: "skip_depths", slot: "skip_depths", list: true, hi: 9, zero: true, integer: true, also: none},
	}},
	// The unit's ratios (the same as the stem's) are checked first.
	{"bottleneck unit", bottleneckSpace, "spaces.r.units[1].KEY", bottleneckDefaults, []bound{
		{key: "ratios", slot: "ratios", list: true, lo: 0.01, hi: 2, percents: true, also: none},
		{key: "expands", slot: "expands", list: true, lo: 0.01, hi: 1, percents: true, also: none},
	}},
}

// mbconvSpace is a small MBConv space with a {slot} for each key line.
const mbconvSpace = `[spaces.s]
family = "mbconv"
{resolutions}
{width_mult}
{classes}
[spaces.s.stem]
{stem.width}
{stem.stride}
{stem.first_block}
act = "relu"
[[spaces.s.units]]
{unit.width}
{unit.stride}
{unit.slots}
act = "relu"
{unit.depths}
{unit.kernels}
{unit.expands}
[[spaces.s.head]]
kind = "conv"
{head.width}
act = "relu"
[[spaces.s.head]]
kind = "gap"
[[spaces.s.head]]
kind = "linear"
{linear.width}
`

var mbconvDefaults = map[string]string{
	"resolutions": "resolutions = [224]", "stem.width": "width = 16", "unit.width": "width = 24", "unit.stride": "stride = 2",
	"unit.depths": "depths = [2, 3]", "unit.kernels": "kernels = [3, 5]", "unit.expands": "expands = [3, 6]",
	"head.width": "width = 960", "linear.width": "width = 1000",
}

// bottleneckSpace is a small bottleneck space; {ratios} holds the stem's
// and the unit's ratio (they must match).
const bottleneckSpace = `[spaces.r]
family = "bottleneck"
resolutions = [224]
[spaces.r.stem]
width = 64
act = "relu"
{ratios}
{skip_depths}
[[spaces.r.units]]
width = 256
act = "relu"
depths = [2]
{ratios}
{expands}
[[spaces.r.head]]
kind = "gap"
[[spaces.r.head]]
kind = "linear"
width = 1000
`

var bottleneckDefaults = map[string]string{"ratios": "ratios = [1.0]", "skip_depths": "skip_depths = [0, 2]", "expands": "expands = [0.25]"}

// hostileInts and hostileFloats are tried for every key (integers only
// for integer keys), with each bound's edges.
var (
	hostileInts   = []string{"0", "-1", "-7", "-2147483648", "2147483648", "2000000000", "100000000", "9223372036854775807", "-9223372036854775808"}
	hostileFloats = []string{"-0.5", "nan", "inf", "-inf", "1e300", "1e-9", "0.655"}
)

// generated builds the variants: every key of every template with every
// hostile value and the edges of its bound.
func generated() []variant {
	var out []variant
	for _, tp := range templates {
		for _, b := range tp.bounds {
			vals := slices.Clone(hostileInts)
			if !b.integer {
				vals = append(vals, hostileFloats...)
			}
			for _, v := range []float64{b.lo, b.hi, b.hi + 1} {
				switch {
				case b.integer && v < math.MaxInt64:
					vals = append(vals, strconv.FormatInt(int64(v), 10))
				case !b.integer:
					vals = append(vals, strconv.FormatFloat(v, 'g', -1, 64), strconv.FormatFloat(v*1.0001, 'g', -1, 64))
				}
			}
			seen := map[string]bool{}
			for _, v := range vals {
				if !seen[v] {
					seen[v] = true
					out = append(out, tp.variant(b, v))
				}
			}
		}
	}
	return out
}

// variant writes value v into the template's slot for b.
func (tp template) variant(b bound, v string) variant {
	line := b.key + " = " + v
	if b.list {
		line = b.key + " = [" + v + "]"
	}
	var pairs []string
	for slot, def := range tp.defaults {
		if slot != b.slot {
			pairs = append(pairs, "{"+slot+"}", def)
		}
	}
	text := tp.text
	if b.slot != "" {
		pairs = append(pairs, "{"+b.slot+"}", line)
	} else if strings.Contains(text, "= {KEY}") {
		text = strings.Replace(text, "{KEY}", v, 1) // an inline table's value
	} else {
		text = strings.Replace(text, "{KEY}", line, 1)
	}
	text = strings.NewReplacer(pairs...).Replace(text)
	// Unused slots stay as TOML comments.
	text = strings.NewReplacer("{", "# {").Replace(text)
	if strings.Contains(tp.text, "= {KEY}") {
		text = strings.Replace(text, "= # { ", "= { ", -1)
	}
	// The error points at the key's line (the last, where a slot is used
	// twice: a bottleneck unit's ratios are checked before its stem's).
	var at []int
	for i, l := range strings.Split(text, "\n") {
		if l == line || strings.Contains(l, "{ 7 = "+v+" }") {
			at = append(at, i+1)
		}
	}
	g := variant{name: fmt.Sprintf("%s %s=%s", tp.name, b.key, v), text: text, key: strings.Replace(tp.path, "KEY", b.key, 1),
		value: v, line: at[len(at)-1], ok: b.accepts(v)}
	if len(at) > 1 {
		g.altKey, g.altLine = strings.Replace(g.key, "units[1]", "stem", 1), at[0]
	}
	return g
}

// accepts reports whether the documented bound admits v.
func (b bound) accepts(v string) bool {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) {
		return false
	}
	if b.integer && (f != math.Trunc(f) || strings.ContainsAny(v, ".e")) {
		return false
	}
	switch {
	case f == 0:
		return b.zero || b.lo == 0
	case f == b.also:
		return true
	case f < b.lo || f > b.hi:
		return false
	case b.odd && int64(f)%2 == 0:
		return false
	case b.percents && math.Round(f*100)/100 != f:
		return false
	}
	return true
}
