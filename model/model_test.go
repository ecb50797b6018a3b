package model

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// mbconv returns MACs and params of one inverted residual computed by hand:
// expansion 1x1 (skipped when mid == in and noExp), depthwise k×k, optional
// SE (reduce r with bias, expand with bias), projection 1x1; BN = 2 params
// per channel.
func mbconvHand(in, mid, out, k, hin, hout, se int, noExp bool) (int64, int64) {
	var m, p int64
	if !noExp {
		m += int64(hin * hin * in * mid)
		p += int64(in*mid + 2*mid)
	}
	m += int64(hout * hout * mid * k * k)
	p += int64(mid*k*k + 2*mid)
	if se > 0 {
		m += int64(2 * mid * se)
		p += int64(2*mid*se + se + mid)
	}
	m += int64(hout * hout * mid * out)
	p += int64(mid*out + 2*out)
	return m, p
}

// TestHandComputed checks extreme networks against arithmetic written out
// by hand from the OFA definitions (channels typed in, not computed by the
// package) and, for ResNet50, against torchvision's published ResNet50
// parameter count.
func TestHandComputed(t *testing.T) {
	ss := defaultSpaces(t)
	mb3 := func(max bool) (int64, int64) {
		// ofa-mbv3 width 1.2 at 224: stem 3->24 s2 (112), first block e1 k3 24->24.
		m := int64(112 * 112 * 24 * 27)
		p := int64(24*27 + 48)
		fm, fp := mbconvHand(24, 24, 24, 3, 112, 112, 0, true)
		m, p = m+fm, p+fp
		outs := []int{32, 48, 96, 136, 192}
		strides := []int{2, 2, 2, 1, 2}
		se := []bool{false, true, false, true, true}
		in, h := 24, 112
		e, k, d := 3, 3, 2
		if max {
			e, k, d = 6, 7, 4
		}
		// mid = make_divisible(in*e, 8) and SE = make_divisible(mid/4, 8),
		// typed per input width: e3: 24->72 32->96 48->144 96->288 136->408 192->576;
		// e6: 24->144 32->192 48->288 96->576 136->816 192->1152.
		mids := map[int]map[int]int{3: {24: 72, 32: 96, 48: 144, 96: 288, 136: 408, 192: 576},
			6: {24: 144, 32: 192, 48: 288, 96: 576, 136: 816, 192: 1152}}
		ses := map[int]int{72: 24, 96: 24, 144: 40, 288: 72, 408: 104, 576: 144, 192: 48, 816: 208, 1152: 288}
		for u := range 5 {
			for l := range d {
				hout := h
				if l == 0 && strides[u] == 2 {
					hout = (h-1)/2 + 1
				}
				mid := mids[e][in]
				r := 0
				if se[u] {
					r = ses[mid]
				}
				lm, lp := mbconvHand(in, mid, outs[u], k, h, hout, r, false)
				m, p = m+lm, p+lp
				in, h = outs[u], hout
			}
		}
		// head: 1x1 192->1152 +BN at 7x7, pool, 1x1 1152->1536 (no BN, no bias), FC 1536->1000.
		m += int64(7*7*192*1152 + 1152*1536 + 1536*1000)
		p += int64(192*1152 + 2*1152 + 1152*1536 + 1536*1000 + 1000)
		return m, p
	}
	minM, minP := mb3(false)
	maxM, maxP := mb3(true)
	// torchvision resnet50 has 25,557,032 params; the OFA arch with the
	// same depths (3,4,6,3), expansion 0.25 and full widths differs only in
	// the stem: three 3x3 convs 3->32->32->64 (+BN) instead of a 7x7 3->64
	// (+BN): (864+64)+(9216+64)+(18432+128) - (9408+128) = 19,232 more.
	resnetEquivParams := int64(25557032 + 19232)
	resnet := "ofa-resnet50:224:d2w22/c100b25,c100b25,c100b25/c100b25,c100b25,c100b25,c100b25/" +
		"c100b25,c100b25,c100b25,c100b25,c100b25,c100b25/c100b25,c100b25,c100b25"
	tests := []struct {
		space, arch  string
		macs, params int64
	}{
		{"ofa-mbv3", ss.mustGet(t, "ofa-mbv3").MinArch(224).String(), minM, minP},
		{"ofa-mbv3", ss.mustGet(t, "ofa-mbv3").MaxArch(224).String(), maxM, maxP},
		{"ofa-resnet50", resnet, -1, resnetEquivParams},
	}
	for _, tc := range tests {
		t.Run(tc.arch, func(t *testing.T) {
			sp := ss.mustGet(t, tc.space)
			a, err := sp.ParseArch(tc.arch)
			if err != nil {
				t.Fatal(err)
			}
			n, err := sp.Network(a)
			if err != nil {
				t.Fatal(err)
			}
			if tc.macs >= 0 && n.MACs() != tc.macs {
				t.Errorf("MACs %d, hand %d", n.MACs(), tc.macs)
			}
			if n.Params() != tc.params {
				t.Errorf("params %d, hand %d", n.Params(), tc.params)
			}
		})
	}
}

func (s *Spaces) mustGet(t testing.TB, name string) *Space {
	t.Helper()
	sp, err := s.Get(name)
	if err != nil {
		t.Fatal(err)
	}
	return sp
}

func TestRoundTrips(t *testing.T) {
	ss := defaultSpaces(t)
	for _, name := range ss.Names() {
		sp := ss.mustGet(t, name)
		rng := NewRand(7)
		for i := range 500 {
			a := sp.Sample(rng, sp.Resolutions[i%len(sp.Resolutions)])
			if err := sp.Check(a); err != nil {
				t.Fatalf("%s: sampled arch invalid: %v", name, err)
			}
			b, err := sp.ParseArch(a.String())
			if err != nil || b.String() != a.String() {
				t.Fatalf("%s: canonical round trip of %s: %v %s", name, a, err, b)
			}
			o := sp.ToOFA(a)
			js, _ := json.Marshal(o)
			c, err := sp.ParseArchAny(string(js))
			if err != nil || c.String() != a.String() {
				t.Fatalf("%s: OFA round trip of %s via %s: %v %s", name, a, js, err, c)
			}
		}
	}
}

func TestParseArchErrors(t *testing.T) {
	ss := defaultSpaces(t)
	mb := ss.mustGet(t, "ofa-mbv3")
	rn := ss.mustGet(t, "ofa-resnet50")
	tests := []struct {
		sp   *Space
		in   string
		want string
	}{
		{mb, "ofa-mbv3", "want SPACE:RESOLUTION:BLOCKS"},
		{mb, "ofa-pn-w1.3:224:e3k3", `names space "ofa-pn-w1.3"`},
		{mb, "ofa-mbv3:abc:e3k3", "resolution \"abc\""},
		{mb, "ofa-mbv3:225:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "resolution 225 not allowed"},
		{mb, "ofa-mbv3:224:e3k3,e3k3/e3k3,e3k3", "2 units, space ofa-mbv3 has 5"},
		{mb, "ofa-mbv3:224:e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "unit 1 has 1 layers, allowed depths are [2 3 4]"},
		{mb, "ofa-mbv3:224:e3k3,e5k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "unit 1 layer 2: block e5k3 is not allowed"},
		{mb, "ofa-mbv3:224:e3k3,zz/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3", "unit 1 layer 2: block \"zz\""},
		{mb, `{"ks":[3],"e":[3],"d":[1],"r":224}`, "d has 1 entries, ofa-mbv3 wants 5"},
		{mb, `{"ks":[3,3],"e":[3,3],"d":[2,2,2,2,2],"r":224}`, "wants 20 each"},
		{mb, `{"ks":[3],"e":[3],"d":[1],"x":1}`, "unknown field"},
		{rn, "ofa-resnet50:224:c65b20,c65b20/c65b20,c65b20/c65b20,c65b20,c65b20,c65b20/c65b20,c65b20", "stem token"},
		{rn, "ofa-resnet50:224:d1w00/c65b20,c65b20/c65b20,c65b20/c65b20,c65b20,c65b20,c65b20/c65b20,c65b20", "stem depth 1 not in [0 2]"},
		{rn, "ofa-resnet50:224:d2w00/c65b20,c80b20/c65b20,c65b20/c65b20,c65b20,c65b20,c65b20/c65b20,c65b20", "unit 1 layer 2: channel ratio 0.8 differs"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			_, err := tc.sp.ParseArchAny(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestBlockNames(t *testing.T) {
	tests := []struct {
		in               string
		key, label, code string
	}{
		{"e6k7", "e6k7", "MBConv6-7", "B9"},
		{"MBConv3-5", "e3k5", "MBConv3-5", "B2"},
		{"B4", "e4k3", "MBConv4-3", "B4"},
		{"c100b35", "c100b35", "C100-B35", "C100-B35"},
		{"C65-B20", "c65b20", "C65-B20", "C65-B20"},
	}
	for _, tc := range tests {
		b, err := ParseBlock(tc.in)
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if b.Key() != tc.key || b.Label() != tc.label || b.Code() != tc.code {
			t.Errorf("%s: got %s %s %s", tc.in, b.Key(), b.Label(), b.Code())
		}
	}
	for _, bad := range []string{"", "e", "k3", "e0k3", "B0", "cXbY", "MBConv"} {
		if _, err := ParseBlock(bad); err == nil {
			t.Errorf("ParseBlock(%q) accepted", bad)
		}
	}
}

func TestMakeDivisible(t *testing.T) {
	tests := []struct {
		v    float64
		want int
	}{{19.2, 24}, {28.8, 32}, {134.4, 136}, {41.6, 40}, {20.8, 24}, {52, 56}, {124.8, 128}, {249.6, 248}, {1664, 1664}, {20, 24}, {166.4, 168}, {409.6, 408}, {3, 8}}
	for _, tc := range tests {
		if got := MakeDivisible(tc.v, 8); got != tc.want {
			t.Errorf("MakeDivisible(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
}

func TestSpaceSizes(t *testing.T) {
	ss := defaultSpaces(t)
	// (9^2+9^3+9^4)^5 for OFA-MBv3, ≈ 2.2e19 (paper: ≈10^19).
	want := math.Pow(81+729+6561, 5)
	got, _ := ss.mustGet(t, "ofa-mbv3").Size().Float64()
	if math.Abs(got-want)/want > 1e-12 {
		t.Errorf("ofa-mbv3 size %g, want %g", got, want)
	}
}
