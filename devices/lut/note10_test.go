package lut

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/model"
)

func testSpace(t testing.TB, name string) *model.Space {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ss.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

// meanByHand finds "KEY:" in the raw YAML text and reads the "mean:" line
// of its entry, without the package's parser.
func meanByHand(t *testing.T, yaml, key string) float64 {
	t.Helper()
	text := "\n" + yaml
	i := strings.Index(text, "\n"+key+":\n")
	if i < 0 {
		t.Fatalf("key %s is not in the table", key)
	}
	rest := text[i+len(key)+3:]
	for _, line := range strings.SplitN(rest, "\n", 4)[:3] {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "mean: "); ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return x
		}
	}
	t.Fatalf("entry %s has no mean line", key)
	return 0
}

// The key lists of the smallest (depth 2, MBConv3-3 everywhere) and largest
// (depth 4, MBConv6-7) OFA-MobileNetV3 width-1.2 archs, written out from the
// key grammar: widths 24 (stem, first block) 32 48 96 136 192, head
// 1152/1536; expand = make_divisible(in·e, 8); spatial (H-1)//2+1 after a
// stride 2.
var (
	min224 = []string{
		"Conv-input:224x224x3-output:112x112x24",
		"expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:112x112x24-output:56x56x32-expand:72-kernel:3-stride:2-idskip:0-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:56x56x32-expand:96-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:28x28x48-expand:96-kernel:3-stride:2-idskip:0-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:28x28x48-expand:144-kernel:3-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:14x14x96-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x96-expand:288-kernel:3-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x136-expand:288-kernel:3-stride:1-idskip:0-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:14x14x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:7x7x192-expand:408-kernel:3-stride:2-idskip:0-se:1-hs:1",
		"expanded_conv-input:7x7x192-output:7x7x192-expand:576-kernel:3-stride:1-idskip:1-se:1-hs:1",
		"Conv_1-input:7x7x192-output:7x7x1152",
		"AvgPool2D-input:7x7x1152-output:1x1x1152",
		"Conv_2-input:1x1x1152-output:1x1x1536",
		"Logits-input:1x1x1536-output:1000",
	}
	max224 = []string{
		"Conv-input:224x224x3-output:112x112x24",
		"expanded_conv-input:112x112x24-output:112x112x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:112x112x24-output:56x56x32-expand:144-kernel:7-stride:2-idskip:0-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:56x56x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:56x56x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:56x56x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:56x56x32-output:28x28x48-expand:192-kernel:7-stride:2-idskip:0-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:28x28x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:28x28x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:28x28x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:28x28x48-output:14x14x96-expand:288-kernel:7-stride:2-idskip:0-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:14x14x96-output:14x14x136-expand:576-kernel:7-stride:1-idskip:0-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:14x14x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:14x14x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:14x14x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:14x14x136-output:7x7x192-expand:816-kernel:7-stride:2-idskip:0-se:1-hs:1",
		"expanded_conv-input:7x7x192-output:7x7x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:7x7x192-output:7x7x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:7x7x192-output:7x7x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"Conv_1-input:7x7x192-output:7x7x1152",
		"AvgPool2D-input:7x7x1152-output:1x1x1152",
		"Conv_2-input:1x1x1152-output:1x1x1536",
		"Logits-input:1x1x1536-output:1000",
	}
	min160 = []string{
		"Conv-input:160x160x3-output:80x80x24",
		"expanded_conv-input:80x80x24-output:80x80x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:80x80x24-output:40x40x32-expand:72-kernel:3-stride:2-idskip:0-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:40x40x32-expand:96-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:20x20x48-expand:96-kernel:3-stride:2-idskip:0-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:20x20x48-expand:144-kernel:3-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:10x10x96-expand:144-kernel:3-stride:2-idskip:0-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x96-expand:288-kernel:3-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x136-expand:288-kernel:3-stride:1-idskip:0-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:10x10x136-expand:408-kernel:3-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:5x5x192-expand:408-kernel:3-stride:2-idskip:0-se:1-hs:1",
		"expanded_conv-input:5x5x192-output:5x5x192-expand:576-kernel:3-stride:1-idskip:1-se:1-hs:1",
		"Conv_1-input:5x5x192-output:5x5x1152",
		"AvgPool2D-input:5x5x1152-output:1x1x1152",
		"Conv_2-input:1x1x1152-output:1x1x1536",
		"Logits-input:1x1x1536-output:1000",
	}
	max160 = []string{
		"Conv-input:160x160x3-output:80x80x24",
		"expanded_conv-input:80x80x24-output:80x80x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:80x80x24-output:40x40x32-expand:144-kernel:7-stride:2-idskip:0-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:40x40x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:40x40x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:40x40x32-expand:192-kernel:7-stride:1-idskip:1-se:0-hs:0",
		"expanded_conv-input:40x40x32-output:20x20x48-expand:192-kernel:7-stride:2-idskip:0-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:20x20x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:20x20x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:20x20x48-expand:288-kernel:7-stride:1-idskip:1-se:1-hs:0",
		"expanded_conv-input:20x20x48-output:10x10x96-expand:288-kernel:7-stride:2-idskip:0-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x96-expand:576-kernel:7-stride:1-idskip:1-se:0-hs:1",
		"expanded_conv-input:10x10x96-output:10x10x136-expand:576-kernel:7-stride:1-idskip:0-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:10x10x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:10x10x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:10x10x136-expand:816-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:10x10x136-output:5x5x192-expand:816-kernel:7-stride:2-idskip:0-se:1-hs:1",
		"expanded_conv-input:5x5x192-output:5x5x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:5x5x192-output:5x5x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"expanded_conv-input:5x5x192-output:5x5x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1",
		"Conv_1-input:5x5x192-output:5x5x1152",
		"AvgPool2D-input:5x5x1152-output:1x1x1152",
		"Conv_2-input:1x1x1152-output:1x1x1536",
		"Logits-input:1x1x1536-output:1000",
	}
)

// TestNote10ByHand: the LUT device reproduces, for the max and min
// ofa-mbv3 (width 1.2) archs at 224 and 160, the sums of the hand-written
// key lists' means read straight from the YAML text.
func TestNote10ByHand(t *testing.T) {
	sp := testSpace(t, "ofa-mbv3")
	d, err := Open(devices.Config{Name: "note10", Kind: "lut", Label: "Note10"}, "testdata")
	if err != nil {
		t.Fatal(err)
	}
	if info := d.Info(); info.Label != "table (Note10)" || info.Provenance != devices.Table {
		t.Errorf("label %q provenance %q", info.Label, info.Provenance)
	}
	tests := []struct {
		name string
		arch model.Arch
		keys []string
	}{
		{"min224", sp.MinArch(224), min224},
		{"max224", sp.MaxArch(224), max224},
		{"min160", sp.MinArch(160), min160},
		{"max160", sp.MaxArch(160), max160},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml, err := os.ReadFile(filepath.Join("testdata", strconv.Itoa(tt.arch.Resolution)+"_lookup_table.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			want := 0.0
			for _, k := range tt.keys {
				want += meanByHand(t, string(yaml), k)
			}
			net, err := sp.Network(tt.arch)
			if err != nil {
				t.Fatal(err)
			}
			terms, err := Keys(net)
			if err != nil {
				t.Fatal(err)
			}
			if len(terms) != len(tt.keys) {
				t.Fatalf("%d keys, want %d", len(terms), len(tt.keys))
			}
			for i, tm := range terms {
				if tm.Key != tt.keys[i] {
					t.Errorf("layer %s: key\n %s\nwant\n %s", tm.Layer, tm.Key, tt.keys[i])
				}
			}
			m, err := d.Measure(context.Background(), net)
			if err != nil {
				t.Fatal(err)
			}
			if len(m.SamplesMs) != 1 || !m.Summary || math.Abs(m.SamplesMs[0]-want) > 1e-9*want {
				t.Errorf("latency %v, by hand %v", m.SamplesMs, want)
			}
		})
	}
}
