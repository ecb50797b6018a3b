package ondevice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"blockprof/model"
	"blockprof/model/export"
)

func testSpaces(t testing.TB) *model.Spaces {
	t.Helper()
	data, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := model.ParseSpaces(data, "config.toml")
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func testHello() Hello {
	return Hello{Helper: "blockprof", Protocol: Protocol, Build: strings.Repeat("ab", 32), GOOS: "linux", GOARCH: "arm64", Formats: Formats()}
}

// serve runs Serve over the given request lines and returns the replies
// after the hello, and Serve's error.
func serve(t *testing.T, dir string, lines ...string) ([]Reply, error) {
	t.Helper()
	var out bytes.Buffer
	err := Serve(context.Background(), strings.NewReader(strings.Join(lines, "\n")+"\n"), &out, dir, testHello())
	outLines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	h, herr := ParseHello([]byte(outLines[0]))
	if herr != nil || !reflect.DeepEqual(h, testHello()) {
		t.Fatalf("hello %q: %v", outLines[0], herr)
	}
	var reps []Reply
	for _, l := range outLines[1:] {
		var r Reply
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("reply %q: %v", l, err)
		}
		reps = append(reps, r)
	}
	return reps, err
}

func line(t *testing.T, r Request) string {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeWritesTheExport: for the smallest and largest arch of every
// configured space, the helper's file is byte for byte the host's export
// (same seed and batch), and its reply gives that file's size and hash.
func TestServeWritesTheExport(t *testing.T) {
	ss := testSpaces(t)
	for _, name := range ss.Names() {
		sp, _ := ss.Get(name)
		for _, c := range []struct {
			a       model.Arch
			batches []int
		}{{sp.MinArch(sp.Resolution), []int{0, 2}}, {sp.MaxArch(sp.Resolution), []int{1}}} {
			a := c.a
			for _, batch := range c.batches {
				// Each helper process learns the space from its first
				// request's define, sent as JSON.
				dir := t.TempDir()
				reps, err := serve(t, dir, line(t, Request{Space: name, Define: sp, Arch: a.String(), Seed: 7, Batch: batch, Out: "model.onnx"}))
				if err != nil || len(reps) != 1 || reps[0].Error != "" {
					t.Fatalf("%s batch %d: %v %+v", a, batch, err, reps)
				}
				net, err := sp.Network(a)
				if err != nil {
					t.Fatal(err)
				}
				want, err := export.ONNX(context.Background(), net, export.Request{Format: "onnx", Seed: 7, Batch: batch})
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(dir, "model.onnx"))
				if err != nil {
					t.Fatal(err)
				}
				sum := sha256.Sum256(want)
				if !bytes.Equal(got, want) || reps[0].Bytes != int64(len(want)) || reps[0].SHA256 != hex.EncodeToString(sum[:]) || reps[0].Path != filepath.Join(dir, "model.onnx") {
					t.Errorf("%s batch %d: file of %d bytes, reply %+v; want the export's %d bytes", a, batch, len(got), reps[0], len(want))
				}
			}
		}
	}
}

// TestSpaceJSONRoundTrip: a space sent as JSON is the same space there.
func TestSpaceJSONRoundTrip(t *testing.T) {
	ss := testSpaces(t)
	for _, name := range ss.Names() {
		sp, _ := ss.Get(name)
		b, err := json.Marshal(sp)
		if err != nil {
			t.Fatal(err)
		}
		var back model.Space
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(&back, sp) {
			t.Errorf("%s changed on its way through JSON", name)
		}
	}
}

// TestServeRequestErrors: a request the helper cannot serve gets an error
// reply naming the problem and the helper serves the next one; a line it
// cannot read ends it.
func TestServeRequestErrors(t *testing.T) {
	ss := testSpaces(t)
	sp, _ := ss.Get("ofa-mbv3")
	arch := sp.MinArch(sp.Resolution).String()
	good := Request{Space: sp.Name, Define: sp, Arch: arch, Seed: 1, Out: "model.onnx"}
	for _, c := range []struct {
		name string
		req  Request
		want string
	}{
		{"undefined space", Request{Space: "other", Arch: arch, Out: "m.onnx"}, "never defined"},
		{"bad arch", Request{Space: sp.Name, Define: sp, Arch: "ofa-mbv3:224:zz", Out: "m.onnx"}, "ofa-mbv3:224:zz"},
		{"unknown format", Request{Space: sp.Name, Define: sp, Arch: arch, Format: "coreml", Out: "m.onnx"}, `format: "coreml": want one of onnx, tflite`},
		{"unknown precision", Request{Space: sp.Name, Define: sp, Arch: arch, Precision: "int4", Out: "m.onnx"}, `precision: "int4": format onnx holds`},
	} {
		t.Run(c.name, func(t *testing.T) {
			reps, err := serve(t, t.TempDir(), line(t, c.req), line(t, good))
			if err != nil || len(reps) != 2 {
				t.Fatalf("%v, %d replies", err, len(reps))
			}
			if !strings.Contains(reps[0].Error, c.want) {
				t.Errorf("error %q, want it to mention %q", reps[0].Error, c.want)
			}
			if reps[1].Error != "" || reps[1].Bytes == 0 {
				t.Errorf("the next request failed: %+v", reps[1])
			}
		})
	}
	for _, c := range []struct{ name, line, want string }{
		{"not json", "hello", "request"},
		{"unknown field", `{"space":"ofa-mbv3","arch":"x","out":"m","evil":1}`, "evil"},
		{"path out", `{"space":"ofa-mbv3","arch":"x","out":"../../etc/passwd"}`, "out"},
		{"define mismatch", `{"space":"a","arch":"x","out":"m","define":{"Name":"b"}}`, "define names"},
		{"batch", `{"space":"a","arch":"x","out":"m","batch":5000}`, "batch"},
	} {
		t.Run(c.name, func(t *testing.T) {
			reps, err := serve(t, t.TempDir(), c.line, line(t, good))
			if err == nil || !strings.Contains(err.Error(), c.want) || len(reps) != 1 || !strings.Contains(reps[0].Error, c.want) {
				t.Errorf("Serve = %v, replies %+v; want it to stop with an error about %q", err, reps, c.want)
			}
		})
	}
	if err := Serve(context.Background(), strings.NewReader(""), &bytes.Buffer{}, filepath.Join(t.TempDir(), "missing"), testHello()); err == nil || !strings.Contains(err.Error(), "--dir") {
		t.Errorf("missing dir: %v", err)
	}
}

func TestBuildIDIsTheFileHash(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("abc"), 0o644)
	id, err := BuildID(p)
	if err != nil || id != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("BuildID = %q, %v", id, err)
	}
}
