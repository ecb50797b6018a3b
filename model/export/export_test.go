package export_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/charmbracelet/x/exp/golden"
	"google.golang.org/protobuf/proto"

	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/modeltest"
	"blockprof/model/onnx/onnxpb"
)

func minNet(t testing.TB) (*model.Space, model.Arch, *model.Network) {
	t.Helper()
	sp := modeltest.Space(t, "ofa-mbv3")
	a := sp.MinArch(160)
	net, err := sp.Network(a)
	if err != nil {
		t.Fatal(err)
	}
	return sp, a, net
}

// TestMetadata records the metadata_props of the fp32, fp16 and int8 ONNX
// files of one arch (go test -update rewrites the golden file).
func TestMetadata(t *testing.T) {
	_, _, net := minNet(t)
	w := export.New()
	var b strings.Builder
	for _, p := range []string{"fp32", "fp16", "int8"} {
		data, err := w.Write(context.Background(), net, export.Request{Format: "onnx", Precision: p, Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		m := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(data, m); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "== %s\n", p)
		for _, kv := range m.GetMetadataProps() {
			fmt.Fprintf(&b, "%s: %s\n", kv.GetKey(), kv.GetValue())
		}
	}
	golden.RequireEqual(t, b.String())
}

// TestCheck names the field of every bad request.
func TestCheck(t *testing.T) {
	tests := []struct {
		req   export.Request
		field string
		has   string
	}{
		{export.Request{Format: "pb"}, "format", "want one of onnx, tflite"},
		{export.Request{Format: "tflite"}, "format", "not available"},
		{export.Request{Format: "onnx", Precision: "int4"}, "precision", "fp32, fp16, int8"},
		{export.Request{Format: "onnx", Precision: "fp16", Calib: "x.npy"}, "calib", "only int8"},
		{export.Request{Format: "onnx", Precision: "int8", Samples: 1000}, "samples", "0..64"},
		{export.Request{Format: "onnx", Batch: -1}, "batch", "0..4096"},
	}
	w := export.New()
	for _, tc := range tests {
		_, err := w.Check(tc.req)
		var fe *export.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.has) {
			t.Errorf("%+v: err %v, want a %s error containing %q", tc.req, err, tc.field, tc.has)
		}
	}
	if _, err := w.Check(export.Request{Format: "tflite"}); !errors.Is(err, export.ErrUnavailable) {
		t.Errorf("tflite without a writer: %v, want ErrUnavailable", err)
	}
	// A registered writer is used, with its own precisions.
	w.Register("tflite", export.Writer{Precisions: []string{"fp32"}, Ext: ".tflite",
		Write: func(context.Context, *model.Network, export.Request) ([]byte, error) { return []byte("TFL3"), nil }})
	if _, err := w.Check(export.Request{Format: "tflite", Precision: "int8"}); err == nil {
		t.Error("int8 accepted by an fp32-only writer")
	}
	_, _, net := minNet(t)
	if b, err := w.Write(context.Background(), net, export.Request{Format: "tflite"}); err != nil || string(b) != "TFL3" {
		t.Errorf("registered writer: %q, %v", b, err)
	}
}

// TestFiles writes one file and a directory, and leaves nothing behind on
// a cancelled or failed run.
func TestFiles(t *testing.T) {
	sp, a, _ := minNet(t)
	w := export.New()
	dir := t.TempDir()
	one := filepath.Join(dir, "one.onnx")
	got, err := w.Files(context.Background(), sp, []model.Arch{a}, export.Request{Format: "onnx"}, one, false)
	if err != nil || len(got) != 1 || got[0].File != one {
		t.Fatalf("%v %v", got, err)
	}
	if st, err := os.Stat(one); err != nil || st.Size() != int64(got[0].Bytes) {
		t.Fatalf("%v %v", st, err)
	}
	b := sp.MaxArch(160)
	out := filepath.Join(dir, "many")
	got, err = w.Files(context.Background(), sp, []model.Arch{a, b}, export.Request{Format: "onnx", Precision: "fp16"}, out, true)
	if err != nil || len(got) != 2 {
		t.Fatalf("%v %v", got, err)
	}
	if want := filepath.Join(out, "0002-ofa-mbv3-r160.onnx"); got[1].File != want {
		t.Errorf("file %s, want %s", got[1].File, want)
	}
	// Two archs for one file.
	if _, err := w.Files(context.Background(), sp, []model.Arch{a, b}, export.Request{Format: "onnx"}, one, false); err == nil {
		t.Error("two archs written to one file")
	}
	// Cancelled: nothing written, no temporary file.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	empty := t.TempDir()
	if got, err := w.Files(ctx, sp, []model.Arch{a}, export.Request{Format: "onnx", Precision: "int8"}, filepath.Join(empty, "x.onnx"), false); !errors.Is(err, context.Canceled) || len(got) != 0 {
		t.Errorf("cancelled: %v %v", got, err)
	}
	// A failing int8 calibration (bad file) leaves nothing either.
	bad := filepath.Join(empty, "bad.bin")
	if err := os.WriteFile(bad, []byte{1, 2, 3}, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Files(context.Background(), sp, []model.Arch{a}, export.Request{Format: "onnx", Precision: "int8", Calib: bad}, filepath.Join(empty, "x.onnx"), false); err == nil || !strings.Contains(err.Error(), "bad.bin") {
		t.Errorf("bad calibration file: %v", err)
	}
	if ents, _ := os.ReadDir(empty); len(ents) != 1 {
		t.Errorf("left behind: %v", ents)
	}
	// An arch outside the space.
	c := a
	c.Resolution = 999
	if _, err := w.Files(context.Background(), sp, []model.Arch{c}, export.Request{Format: "onnx"}, filepath.Join(empty, "y.onnx"), false); err == nil {
		t.Error("an arch outside the space was written")
	}
}

// TestCalibrationFile: a user's .npy calibration is used and named in the
// metadata.
func TestCalibrationFile(t *testing.T) {
	_, _, net := minNet(t)
	n := 3 * 160 * 160
	h := "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 3, 160, 160), }\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), 0)
	b = append(b, h...)
	for i := range n {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(i%7)/7))
	}
	path := filepath.Join(t.TempDir(), "calib.npy")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	data, err := export.New().Write(context.Background(), net, export.Request{Format: "onnx", Precision: "int8", Calib: path})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte("minmax over 1 inputs from calib.npy (sha256 ")) {
		t.Error("the metadata does not name the calibration file")
	}
}

func FuzzReadArchs(f *testing.F) {
	f.Add([]byte(`{"arch": "ofa-mbv3:160:e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3/e3k3,e3k3"}` + "\n\n"))
	f.Add([]byte(`{"arch": {"ks":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"e":[3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3],"d":[2,2,2,2,2],"r":160}}`))
	f.Add([]byte(`{"arch": null}`))
	f.Add([]byte("not json\n"))
	sp := modeltest.Space(f, "ofa-mbv3")
	f.Fuzz(func(t *testing.T, b []byte) {
		archs, err := export.ReadArchs(bytes.NewReader(b), "in.jsonl", sp)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "in.jsonl") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		for _, a := range archs {
			if err := sp.Check(a); err != nil {
				t.Fatalf("accepted an arch outside the space: %v", err)
			}
		}
	})
}
