package lut

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"blockprof/devices"
	"blockprof/model"
)

// Term is one layer's share of a network's table latency.
type Term struct {
	// Layer is the network layer's name ("stem", "first", "u2.l3", ...).
	Layer string `json:"layer"`
	Key   string `json:"key"`
	// Mean is the table's mean in ms (0 from Keys).
	Mean float64 `json:"mean_ms"`
}

func shape(h, w, c int) string { return fmt.Sprintf("%dx%dx%d", h, w, c) }

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}

// Keys lists the table keys of a network in layer order, in OFA's
// MBv3LatencyTable grammar:
//
//	Conv-input:224x224x3-output:112x112x24                         stem
//	expanded_conv-input:HxWxC-output:H'xW'xC'-expand:MID-kernel:K-stride:S-idskip:0|1-se:0|1-hs:0|1
//	Conv_1-input:7x7x192-output:7x7x1152                           head convs, numbered
//	AvgPool2D-input:7x7x1152-output:1x1x1152
//	Conv_2-input:1x1x1152-output:1x1x1536
//	Logits-input:1x1x1536-output:1000
//
// expand is the block's middle width (its input width when it has no
// expansion conv), idskip the residual add, se the squeeze-and-excite, hs an
// h_swish activation. Layers of other kinds (ResNet bottlenecks, max pools)
// have no key: that is an error naming the layer.
func Keys(net *model.Network) ([]Term, error) {
	var out []Term
	convs := 0
	for _, l := range net.Layers {
		var key string
		switch l.Kind {
		case model.LayerConv:
			name := "Conv"
			if convs > 0 {
				name = fmt.Sprintf("Conv_%d", convs)
			}
			convs++
			key = fmt.Sprintf("%s-input:%s-output:%s", name, shape(l.InH, l.InW, l.In), shape(l.OutH, l.OutW, l.Out))
		case model.LayerMBConv:
			key = fmt.Sprintf("expanded_conv-input:%s-output:%s-expand:%d-kernel:%d-stride:%d-idskip:%d-se:%d-hs:%d",
				shape(l.InH, l.InW, l.In), shape(l.OutH, l.OutW, l.Out), l.Mid, l.K, l.Stride,
				bit(l.Residual), bit(l.SE > 0), bit(l.Act == "h_swish"))
		case model.LayerGAP:
			key = fmt.Sprintf("AvgPool2D-input:%s-output:%s", shape(l.InH, l.InW, l.In), shape(1, 1, l.Out))
		case model.LayerLinear:
			hw := max(l.InH*l.InW, 1)
			key = fmt.Sprintf("Logits-input:%s-output:%d", shape(l.InH, l.InW, l.In/hw), l.Out)
		default:
			return nil, fmt.Errorf("lut: layer %s of %s is a %s, which OFA lookup tables do not cover (they cover MobileNet-style spaces)", l.Name, net.Arch, l.Kind)
		}
		out = append(out, Term{Layer: l.Name, Key: key})
	}
	return out, nil
}

// Tables are the lookup tables of a folder, one per resolution.
type Tables struct {
	Dir   string
	byRes map[int]Table
	files map[int]string
}

var tableName = regexp.MustCompile(`^([0-9]+)_lookup_table\.(yaml|yml|json)$`)

// LoadDir reads every {R}_lookup_table.yaml (.yml, .json) file of dir.
func LoadDir(dir string) (*Tables, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("lut: %w (path should be a folder of {R}_lookup_table.yaml files)", err)
	}
	ts := &Tables{Dir: dir, byRes: map[int]Table{}, files: map[int]string{}}
	for _, e := range ents {
		m := tableName.FindStringSubmatch(e.Name())
		if m == nil || e.IsDir() {
			continue
		}
		r, err := strconv.Atoi(m[1])
		if err != nil || r <= 0 {
			continue
		}
		file := filepath.Join(dir, e.Name())
		if prev, dup := ts.files[r]; dup {
			return nil, fmt.Errorf("lut: two tables for resolution %d: %s and %s (keep one)", r, prev, file)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("lut: %w", err)
		}
		var t Table
		if m[2] == "json" {
			t, err = ParseJSON(data, file)
		} else {
			t, err = ParseYAML(data, file)
		}
		if err != nil {
			return nil, fmt.Errorf("lut: %w", err)
		}
		ts.byRes[r], ts.files[r] = t, file
	}
	if len(ts.byRes) == 0 {
		return nil, fmt.Errorf("lut: %s has no {R}_lookup_table.yaml (or .json) files", dir)
	}
	return ts, nil
}

// Resolutions lists the resolutions with a table, ascending.
func (ts *Tables) Resolutions() []int {
	rs := make([]int, 0, len(ts.byRes))
	for r := range ts.byRes {
		rs = append(rs, r)
	}
	slices.Sort(rs)
	return rs
}

// Table returns the table of resolution r and its file.
func (ts *Tables) Table(r int) (Table, string, error) {
	t, ok := ts.byRes[r]
	if !ok {
		return nil, "", fmt.Errorf("lut: no table for resolution %d in %s (have %s)", r, ts.Dir, joinInts(ts.Resolutions()))
	}
	return t, ts.files[r], nil
}

// Breakdown returns every layer's key and table mean. A key missing from
// the table is an error naming the key, the layer and the file.
func (ts *Tables) Breakdown(net *model.Network) ([]Term, error) {
	t, file, err := ts.Table(net.Resolution)
	if err != nil {
		return nil, err
	}
	terms, err := Keys(net)
	if err != nil {
		return nil, err
	}
	for i, tm := range terms {
		e, ok := t[tm.Key]
		if !ok {
			return nil, fmt.Errorf("lut: %s has no entry %s (layer %s of %s): the table does not cover this block", file, tm.Key, tm.Layer, net.Arch)
		}
		terms[i].Mean = e.Mean
	}
	return terms, nil
}

// Latency is the sum of the network's table means in ms.
func (ts *Tables) Latency(net *model.Network) (float64, error) {
	terms, err := ts.Breakdown(net)
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for _, tm := range terms {
		sum += tm.Mean
	}
	return sum, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

// Label makes a configured label honest: "" gives "table", "Note10" gives
// "table (Note10)", and "table (Note10)" stays.
func Label(l string) string {
	switch {
	case l == "":
		return string(devices.Table)
	case strings.HasPrefix(l, string(devices.Table)):
		return l
	}
	return "table (" + l + ")"
}

// Device sums lookup-table entries.
type Device struct {
	name   string
	tables *Tables
	info   devices.Info
}

// Open loads the tables of dir (cfg.Path, already resolved against the
// config's directory) for cfg (kind "lut"; cfg.Label names the tables'
// device, e.g. "table (Note10)").
func Open(cfg devices.Config, dir string) (*Device, error) {
	if dir == "" {
		return nil, fmt.Errorf("device %s: kind lut needs path = \"DIR\", a folder of {R}_lookup_table.yaml files", cfg.Name)
	}
	ts, err := LoadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("device %s: %w", cfg.Name, err)
	}
	return New(cfg, ts), nil
}

// New makes a device of loaded tables.
func New(cfg devices.Config, ts *Tables) *Device {
	return &Device{name: cfg.Name, tables: ts, info: devices.Info{
		Name: cfg.Name, Kind: "lut", Runtime: "OFA latency lookup tables",
		Hardware:   fmt.Sprintf("tables for R%s in %s", joinInts(ts.Resolutions()), ts.Dir),
		Batch:      1,
		Mode:       "lookup-table",
		Provenance: devices.Table, Label: Label(cfg.Label),
	}}
}

// Name is the configured name.
func (d *Device) Name() string { return d.name }

// Info describes the tables.
func (d *Device) Info() devices.Info { return d.info }

// Tables are the loaded tables.
func (d *Device) Tables() *Tables { return d.tables }

// Check reports the tables found; they were read at Open.
func (d *Device) Check(ctx context.Context) (devices.Info, error) {
	if err := ctx.Err(); err != nil {
		return devices.Info{}, err
	}
	return d.info, nil
}

// Measure returns the network's table latency as one summary sample.
func (d *Device) Measure(ctx context.Context, net *model.Network) (devices.Measurement, error) {
	if err := ctx.Err(); err != nil {
		return devices.Measurement{}, err
	}
	terms, err := d.tables.Breakdown(net)
	if err != nil {
		return devices.Measurement{}, fmt.Errorf("lut %s: %w", d.name, err)
	}
	sum := 0.0
	for _, tm := range terms {
		sum += tm.Mean
	}
	_, file, _ := d.tables.Table(net.Resolution)
	return devices.Measurement{
		SamplesMs: []float64{sum},
		Mode:      "lookup-table",
		Summary:   true,
		Raw:       fmt.Sprintf("sum of %d entries of %s", len(terms), file),
	}, nil
}

// Close does nothing: the tables are in memory.
func (d *Device) Close() error { return nil }
