package infer

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// npy builds a .npy file (version major) with header h and values vs.
func npy(major byte, h string, vs []float32) []byte {
	b := []byte(npyMagic)
	b = append(b, major, 0)
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(h)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(h)))
	}
	b = append(b, h...)
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func TestParseNPY(t *testing.T) {
	six := []float32{1, 2, 3, 4, 5, 6}
	tests := []struct {
		name   string
		file   []byte
		shape  []int
		errHas string
	}{
		{"numpy's own header", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n", six), []int{2, 3}, ""},
		{"version 2, no trailing comma", npy(2, `{"descr": "<f4", "shape": (6,), "fortran_order": False}`+"\n", six), []int{6}, ""},
		{"scalar shape", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }\n", six[:1]), []int{}, ""},
		{"float64", npy(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }\n", six), nil, "'<f4'"},
		{"big endian", npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }\n", six), nil, "little-endian"},
		{"fortran order", npy(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n", six), nil, "fortran_order"},
		{"short data", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), }\n", six), nil, "needs 32 bytes"},
		{"missing key", npy(1, "{'descr': '<f4', 'shape': (6,), }\n", six), nil, "want the keys"},
		{"unknown key", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), 'x': 1}\n", six), nil, "unknown key"},
		{"duplicate key", npy(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}\n", six), nil, "twice"},
		{"one-tuple without comma", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }\n", six), nil, "trailing comma"},
		{"negative dim", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-6,), }\n", six), nil, "dimension"},
		{"garbage after", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), } x\n", six), nil, "after the dict"},
		{"huge shape", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2000000000, 2000000000), }\n", six), nil, "too large"},
		{"no magic", []byte("hello world, not numpy"), nil, "magic"},
		{"version 9", npy(9, "{}", nil), nil, "version 9"},
		{"header past the end", append([]byte(npyMagic), 1, 0, 0xff, 0x7f), nil, "header of"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			shape, data, err := ParseNPY(tc.file)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want one containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(shape, tc.shape) {
				t.Errorf("shape %v, want %v", shape, tc.shape)
			}
			n := 1
			for _, d := range shape {
				n *= d
			}
			if !slices.Equal(data, six[:n]) {
				t.Errorf("data %v", data)
			}
		})
	}
}

func TestReadInputs(t *testing.T) {
	dir := t.TempDir()
	input := []int{1, 3, 2, 2}
	vals := make([]float32, 24)
	for i := range vals {
		vals[i] = float32(i)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	raw := make([]byte, 0, 96)
	for _, v := range vals {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	tests := []struct {
		name   string
		path   string
		n      int
		errHas string
	}{
		{"npy N×C×H×W", write("a.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, 2, 2), }\n", vals)), 2, ""},
		{"npy C×H×W", write("b.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2, 2), }\n", vals[:12])), 1, ""},
		{"raw", write("c.bin", raw), 2, ""},
		{"raw, partial input", write("d.bin", raw[:40]), 0, "whole number of inputs"},
		{"raw, partial value", write("e.bin", raw[:41]), 0, "float32"},
		{"npy, wrong sample shape", write("f.npy", npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 2, 3), }\n", vals)), 0, "(N, 3, 2, 2)"},
		{"nan", write("g.bin", binary.LittleEndian.AppendUint32(raw[:44], math.Float32bits(float32(math.NaN())))), 0, "finite"},
		{"empty", write("h.bin", nil), 0, "whole number"},
		{"missing", filepath.Join(dir, "nope.npy"), 0, "nope.npy"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ins, err := ReadInputs(tc.path, input)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), filepath.Base(tc.path)) {
					t.Fatalf("err %v, want one naming the file and containing %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ins) != tc.n {
				t.Fatalf("%d inputs, want %d", len(ins), tc.n)
			}
			for i, in := range ins {
				if !slices.Equal(in.Shape, input) || in.Data[0] != float32(12*i) {
					t.Errorf("input %d: shape %v first %v", i, in.Shape, in.Data[0])
				}
			}
		})
	}
}

// FuzzParseNPY: any bytes give an error or a shape whose size matches the
// data; never a panic.
func FuzzParseNPY(f *testing.F) {
	f.Add(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n", []float32{1, 2, 3, 4, 5, 6}))
	f.Add(npy(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }\n", []float32{1}))
	f.Add(npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }\n", nil))
	f.Add([]byte(npyMagic + "\x01\x00\x05\x00{'a':"))
	f.Fuzz(func(t *testing.T, b []byte) {
		shape, data, err := ParseNPY(b)
		if err != nil {
			return
		}
		n := 1
		for _, d := range shape {
			if d < 0 {
				t.Fatalf("negative dimension in %v", shape)
			}
			n *= d
		}
		if n != len(data) {
			t.Fatalf("shape %v, %d values", shape, len(data))
		}
		if _, err := Split(shape, data, []int{1, 3}); err == nil && len(data)%3 != 0 {
			t.Fatalf("split %d values into inputs of 3", len(data))
		}
	})
}
