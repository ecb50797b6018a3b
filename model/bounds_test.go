package model

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
)

// largestSpace is a space with every number at its bound: the most MACs
// a config can ask for.
func largestSpace(family string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[spaces.big]\nfamily = %q\nwidth_mult = %v\nresolutions = [%d]\nclasses = %d\n", family, MaxWidthMult, MaxResolution, MaxClasses)
	if family == "bottleneck" {
		fmt.Fprintf(&b, "[spaces.big.stem]\nwidth = %d\nstride = 1\nact = \"relu\"\nratios = [%v]\nskip_depths = [0, %d]\n", MaxWidth, MaxRatio, MaxStemChoices-1)
	} else {
		fmt.Fprintf(&b, "[spaces.big.stem]\nwidth = %d\nstride = 1\nact = \"relu\"\nfirst_block = %d\nfirst_block_act = \"relu\"\n", MaxWidth, MaxWidth)
	}
	for range MaxUnits {
		fmt.Fprintf(&b, "[[spaces.big.units]]\nwidth = %d\nstride = 1\nact = \"relu\"\ndepths = [%d]\n", MaxWidth, MaxDepth)
		if family == "bottleneck" {
			fmt.Fprintf(&b, "ratios = [%v]\nexpands = [%v]\n", MaxRatio, MaxBottleneckExpand)
		} else {
			fmt.Fprintf(&b, "se = true\nkernels = [%d]\nexpands = [%v]\n", MaxKernel, MaxExpand)
		}
	}
	// No pooling before the classifier: it sees the whole feature map.
	fmt.Fprintf(&b, "[[spaces.big.head]]\nkind = \"conv\"\nwidth = %d\nact = \"relu\"\n[[spaces.big.head]]\nkind = \"linear\"\nwidth = %d\n", MaxWidth, MaxClasses)
	return b.String()
}

// TestBoundsLargestSpaceBuilds: a space with every number at its bound is
// accepted and its largest network counts without overflow, so no space
// the loader accepts can overflow.
func TestBoundsLargestSpaceBuilds(t *testing.T) {
	for _, family := range []string{"mbconv", "bottleneck"} {
		t.Run(family, func(t *testing.T) {
			ss, err := ParseSpaces([]byte(largestSpace(family)), "big.toml")
			if err != nil {
				t.Fatal(err)
			}
			sp := ss.mustGet(t, "big")
			n, err := sp.Network(sp.MaxArch(MaxResolution))
			if err != nil {
				t.Fatal(err)
			}
			if n.MACs() <= 0 || n.Params() <= 0 {
				t.Fatalf("macs %d params %d", n.MACs(), n.Params())
			}
			// The margin: even 4× the largest network fits.
			if n.MACs() > math.MaxInt64/4 {
				t.Errorf("largest network has %d MACs, too close to the int64 limit", n.MACs())
			}
			t.Logf("largest %s network: %.3g MACs, %.3g params", family, float64(n.MACs()), float64(n.Params()))
		})
	}
}

// TestNetworkOverflowIsAnError: a space built in code past the bounds
// (the loader would refuse it) gives an error, never a wrapped count.
func TestNetworkOverflowIsAnError(t *testing.T) {
	sp := defaultSpaces(t).mustGet(t, "ofa-mbv3")
	for _, width := range []int{2_000_000_000, math.MaxInt32, math.MaxInt64 / 2} {
		big := sp.Clone()
		for i := range big.Units {
			big.Units[i].Width = width
		}
		n, err := big.Network(big.MaxArch(224))
		if !errors.Is(err, ErrOverflow) {
			t.Errorf("width %d: network %v, error %v; want ErrOverflow", width, n != nil, err)
		}
	}
	// Within the bounds the same space still counts.
	if _, err := sp.Network(sp.MaxArch(224)); err != nil {
		t.Fatal(err)
	}
}

// TestSpaceBounds: one number past its bound, in the audit's and other
// hostile forms, is refused with the file, the line and the key.
func TestSpaceBounds(t *testing.T) {
	base := largestSpace("mbconv")
	bott := largestSpace("bottleneck")
	tests := []struct {
		name, src, from, to, key string
	}{
		{"huge depth (audit)", base, "depths = [16]", "depths = [2, 100000000]", "spaces.big.units[1].depths"},
		{"huge width (audit)", base, "width = 4096\nstride = 1\nact = \"relu\"\ndepths", "width = 2000000000\nstride = 1\nact = \"relu\"\ndepths", "spaces.big.units[1].width"},
		{"negative width", base, "width = 4096\nstride = 1\nact = \"relu\"\ndepths", "width = -8\nstride = 1\nact = \"relu\"\ndepths", "spaces.big.units[1].width"},
		{"depth 0", base, "depths = [16]", "depths = [0, 2]", "spaces.big.units[1].depths"},
		{"slots past the bound", base, "depths = [16]", "depths = [16]\nslots = 17", "spaces.big.units[1].slots"},
		{"slots below the depth", base, "depths = [16]", "depths = [16]\nslots = 3", "spaces.big.units[1].slots"},
		{"width_mult past the bound", base, "width_mult = 4\n", "width_mult = 4.5\n", "spaces.big.width_mult"},
		{"width_mult NaN", base, "width_mult = 4\n", "width_mult = nan\n", "spaces.big.width_mult"},
		{"width_mult negative", base, "width_mult = 4\n", "width_mult = -1.0\n", "spaces.big.width_mult"},
		{"resolution too large", base, "resolutions = [1024]", "resolutions = [1025]", "spaces.big.resolutions"},
		{"classes", base, "classes = 100000", "classes = -3", "spaces.big.classes"},
		{"even kernel", base, "kernels = [15]", "kernels = [4]", "spaces.big.units[1].kernels"},
		{"huge kernel", base, "kernels = [15]", "kernels = [99999]", "spaces.big.units[1].kernels"},
		{"huge expansion", base, "expands = [8]", "expands = [1e300]", "spaces.big.units[1].expands"},
		{"infinite expansion", base, "expands = [8]", "expands = [inf]", "spaces.big.units[1].expands"},
		{"block key past the bound", base, "kernels = [15]\nexpands = [8]", "blocks = [\"e3k3\", \"e1e9k3\"]", "spaces.big.units[1].blocks"},
		{"too many combinations", base, "kernels = [15]\nexpands = [8]", "kernels = [1, 3, 5, 7, 9, 11, 13, 15]\nexpands = [1, 2, 3, 4, 5, 6, 7, 8, 0.5]", "spaces.big.units[1].expands"},
		{"stem stride", base, "stride = 1\nact = \"relu\"\nfirst_block", "stride = 64\nact = \"relu\"\nfirst_block", "spaces.big.stem.stride"},
		{"first block", base, "first_block = 4096", "first_block = -1", "spaces.big.stem.first_block"},
		{"head width", base, "kind = \"conv\"\nwidth = 4096", "kind = \"conv\"\nwidth = 10000000", "spaces.big.head[1].width"},
		{"classifier width", base, "kind = \"linear\"\nwidth = 100000", "kind = \"linear\"\nwidth = 100001", "spaces.big.head[2].width"},
		{"bottleneck ratio", bott, "ratios = [2]\nexpands", "ratios = [20]\nexpands", "spaces.big.units[1].ratios"},
		{"bottleneck expansion", bott, "expands = [1]", "expands = [6]", "spaces.big.units[1].expands"},
		{"stem skip depth", bott, "skip_depths = [0, 9]", "skip_depths = [0, 10]", "spaces.big.stem.skip_depths"},
		{"stem ratio not a whole percent", bott, "ratios = [2]\nskip", "ratios = [0.655]\nskip", "spaces.big.stem.ratios"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(tc.src, tc.from, tc.to, 1)
			if text == tc.src {
				t.Fatal("edit did not apply")
			}
			// The line of the edited key: the last key of the path, in the
			// replacement text.
			name := tc.key[strings.LastIndexAny(tc.key, ".]")+1:]
			if i := strings.LastIndex(name, "["); i >= 0 {
				name = name[:i]
			}
			k := strings.Index("\n"+tc.to, "\n"+name+" =")
			if k < 0 {
				t.Fatalf("%s not in the edit", name)
			}
			line := strings.Count(text[:strings.Index(tc.src, tc.from)+k], "\n") + 1
			_, err := ParseSpaces([]byte(text), "big.toml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.key+":") {
				t.Errorf("error %q does not name %s", err, tc.key)
			}
			if prefix := "big.toml:" + strconv.Itoa(line) + ":"; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
		})
	}
}
