package ondevice

import (
	"encoding/json"
	"testing"
)

// FuzzParseRequest: whatever the line, ParseRequest returns a request
// whose fields are in bounds, or an error; never a panic.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		`{"space":"ofa-mbv3","arch":"ofa-mbv3:224:e3k3","seed":1,"out":"model.onnx"}`,
		`{"space":"a","arch":"x","out":"m","define":{"Name":"a"}}`,
		`{"space":"a","arch":"x","out":"../m"}`,
		`{"space":"a","arch":"x","out":"m","batch":-1}`,
		`{} {}`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRequest(b)
		if err != nil {
			return
		}
		if r.Space == "" || r.Arch == "" || !outRE.MatchString(r.Out) || r.Batch < 0 || r.Batch > MaxBatch {
			t.Errorf("accepted %+v", r)
		}
	})
}

// FuzzParseReply: an accepted reply is an error or a path with a size
// and a hex hash.
func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		`{"path":"/tmp/x/model.onnx","bytes":12,"sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}`,
		`{"error":"boom"}`, `{"path":"x","bytes":-1}`, `[]`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReply(b)
		if err != nil || r.Error != "" {
			return
		}
		if r.Path == "" || r.Bytes <= 0 || len(r.SHA256) != 64 {
			t.Errorf("accepted %+v", r)
		}
	})
}

// FuzzParseHello: an accepted hello is a blockprof helper's with a hex
// build hash, and survives a round trip.
func FuzzParseHello(f *testing.F) {
	good, _ := json.Marshal(testHello())
	for _, s := range []string{string(good), `{"helper":"blockprof","build":"zz"}`, `{"helper":"other"}`, `x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHello(b)
		if err != nil {
			return
		}
		if h.Helper != "blockprof" || len(h.Build) != 64 {
			t.Errorf("accepted %+v", h)
		}
		again, _ := json.Marshal(h)
		if h2, err := ParseHello(again); err != nil || h2.Build != h.Build {
			t.Errorf("round trip: %v", err)
		}
	})
}
