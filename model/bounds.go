package model

import (
	"fmt"
	"math"
	"strconv"
)

// Bounds of every number of a space ([spaces.NAME] in config.toml) and of a
// reduced-space TOML file. They are far beyond the OFA spaces (widths up
// to 2048, depths up to 6, expansions up to 6, kernels up to 7, 224 px)
// yet keep every architecture's MACs and parameters well inside int64 (the
// largest space they allow builds: TestBoundsLargestSpaceBuilds) and a
// sampled architecture small. docs/config-bounds.md lists them.
const (
	// MinResolution and MaxResolution bound every input resolution;
	// MaxResolutions bounds the resolutions list.
	MinResolution  = 32
	MaxResolution  = 1024
	MaxResolutions = 32
	// MaxWidthMult bounds width_mult (> 0; 0 means 1).
	MaxWidthMult = 4.0
	// MaxWidth bounds every base channel count: stem width, first_block,
	// unit widths and head conv widths (before width_mult).
	MaxWidth = 4096
	// MaxClasses bounds classes and the linear head's width.
	MaxClasses = 100_000
	// MaxStemStride bounds the stem's stride (units have stride 1 or 2).
	MaxStemStride = 4
	// MaxUnits bounds the units of a space, MaxDepth a unit's depth
	// choices and its slots, MaxBlocks a unit's block choices.
	MaxUnits  = 16
	MaxDepth  = 16
	MaxBlocks = 64
	// MaxKernel bounds kernel sizes (odd, 1..MaxKernel).
	MaxKernel = 15
	// MaxExpand bounds MBConv expansion ratios (> 0), MaxBottleneckExpand
	// bottleneck ones (the middle width as a fraction of the output, whole
	// percents from 0.01).
	MaxExpand           = 8.0
	MaxBottleneckExpand = 1.0
	// MaxRatio bounds bottleneck channel ratios (whole percents from 0.01).
	MaxRatio = 2.0
	// MaxStemChoices bounds a bottleneck stem's ratios and skip_depths
	// (the canonical stem token d<skip>w<w0><w1> holds one digit each), so
	// skip depths lie in 0..MaxStemChoices-1.
	MaxStemChoices = 10
	// MaxHeadLayers bounds the head.
	MaxHeadLayers = 8
)

// inRange checks lo ≤ v ≤ hi for an integer key.
func inRange(v, lo, hi int, what string) error {
	if v < lo || v > hi {
		return fmt.Errorf("%d outside %d..%d (%s)", v, lo, hi, what)
	}
	return nil
}

// inRangeF checks lo < v ≤ hi (open) or lo ≤ v ≤ hi for a float key; NaN
// and infinities are never in range.
func inRangeF(v, lo, hi float64, open bool, what string) error {
	ok := v <= hi && (v > lo || !open && v == lo)
	if !ok || math.IsNaN(v) {
		l := "["
		if open {
			l = "("
		}
		return fmt.Errorf("%v outside %s%s, %s] (%s)", v, l, trimFloat(lo), trimFloat(hi), what)
	}
	return nil
}

// wholePercent reports whether x is a whole number of percents, as the
// bottleneck block keys (c65b20) write ratios and expansions.
func wholePercent(x float64) bool { return float64(pct(x))/100 == x }

// checkBlock checks one block's numbers against the bounds of its family.
func checkBlock(f Family, b Block) error {
	key := b.Key()
	if f == Bottleneck {
		if b.W == 0 {
			return fmt.Errorf("block %s does not belong to a %s space", key, f)
		}
		if err := inRangeF(b.W, 0.01, MaxRatio, false, "channel ratio"); err != nil {
			return fmt.Errorf("block %s: %w", key, err)
		}
		if err := inRangeF(b.E, 0.01, MaxBottleneckExpand, false, "bottleneck expansion"); err != nil {
			return fmt.Errorf("block %s: %w", key, err)
		}
		if !wholePercent(b.W) || !wholePercent(b.E) {
			return fmt.Errorf("block c%vb%v: ratio and expansion must be whole percents like 0.65 and 0.25 (block keys write them as c65b25)", b.W, b.E)
		}
		if b.K != 3 {
			return fmt.Errorf("block %s: bottleneck kernel %d: want 3", key, b.K)
		}
		return nil
	}
	if b.W != 0 {
		return fmt.Errorf("block %s does not belong to a %s space", key, f)
	}
	if err := inRangeF(b.E, 0, MaxExpand, true, "expansion ratio"); err != nil {
		return fmt.Errorf("block %s: %w", key, err)
	}
	if b.K < 1 || b.K > MaxKernel || b.K%2 == 0 {
		return fmt.Errorf("block %s: kernel %d: want an odd size in 1..%d", key, b.K, MaxKernel)
	}
	return nil
}

// fieldErr is a FieldError at a path relative to the space.
func fieldErr(err error, path ...string) error { return &FieldError{Path: path, Err: err} }

// unitPath is the key path of unit i (0-based) and a key in it.
func unitPath(i int, key ...string) []string {
	return append([]string{"units", strconv.Itoa(i + 1)}, key...)
}
