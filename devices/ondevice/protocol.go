// Package ondevice is the model builder that runs on a command device's
// target (`blockprof helper`, a static CGO_ENABLED=0 build pushed there):
// the host sends it an arch string, and the space's definition the first
// time it names the space, and it writes the model file into its run
// directory on the target, replying with the file's path, size and
// SHA-256. Only these JSON lines cross adb or ssh instead of each
// 13–30 MB model file.
//
// The protocol is one JSON object a line. The helper starts with a Hello;
// each Request is answered by one Reply, in order. A request that fails
// gets a Reply with Error set and the helper keeps serving; a line it
// cannot read ends it with a Reply naming the problem.
package ondevice

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"blockprof/devices"
	"blockprof/model"
)

// Protocol is the version of the line protocol; host and helper must
// agree on it.
const Protocol = 1

// MaxLine bounds one protocol line (a request carrying a space
// definition is a few KiB).
const MaxLine = 1 << 20

// Hello is the helper's first line, and what `blockprof helper --version`
// prints.
type Hello struct {
	Helper   string `json:"helper"` // always "blockprof"
	Protocol int    `json:"protocol"`
	// Build is the SHA-256 of the helper's executable: the host skips the
	// push when the target's copy reports its own file's hash.
	Build  string `json:"build"`
	GOOS   string `json:"goos"`
	GOARCH string `json:"goarch"`
	// Formats lists the model formats this helper writes.
	Formats []string `json:"formats"`
}

// Request asks for one model.
type Request struct {
	// Space names the arch's space; Define carries its definition the
	// first time a helper process sees the name (it keeps it until it
	// exits).
	Space  string       `json:"space"`
	Define *model.Space `json:"define,omitempty"`
	// Arch is the arch's canonical string (model.Arch.String).
	Arch string `json:"arch"`
	// Format and Precision pick the model writer: "onnx" (or "") and
	// "fp32" (or "").
	Format    string `json:"format,omitempty"`
	Precision string `json:"precision,omitempty"`
	// Seed seeds the weights and Batch is the fixed batch (0: 1), as in
	// model/onnx.Options.
	Seed  uint64 `json:"seed"`
	Batch int    `json:"batch,omitempty"`
	// Out is the file name to write in the helper's run directory.
	Out string `json:"out"`
}

// Reply answers one Request.
type Reply struct {
	Path   string `json:"path,omitempty"`
	Bytes  int64  `json:"bytes,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
	Error  string `json:"error,omitempty"`
}

// MaxBatch bounds a request's batch: the config's bound.
const MaxBatch = devices.MaxBatch

var outRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// ParseRequest reads one request line and checks its fields.
func ParseRequest(line []byte) (Request, error) {
	var r Request
	if len(line) > MaxLine {
		return r, fmt.Errorf("request of %d bytes: at most %d", len(line), MaxLine)
	}
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Request{}, fmt.Errorf("request: %w", err)
	}
	if dec.More() {
		return Request{}, errors.New("request: more than one JSON value on the line")
	}
	switch {
	case r.Space == "" || len(r.Space) > 128:
		return Request{}, fmt.Errorf("request: space %q: want a space name of 1..128 bytes", clip(r.Space))
	case r.Arch == "" || len(r.Arch) > 4096:
		return Request{}, fmt.Errorf("request: arch of %d bytes: want 1..4096", len(r.Arch))
	case r.Batch < 0 || r.Batch > MaxBatch:
		return Request{}, fmt.Errorf("request: batch %d outside 0..%d", r.Batch, MaxBatch)
	case !outRE.MatchString(r.Out):
		return Request{}, fmt.Errorf("request: out %q: want a file name of letters, digits, '.', '_' and '-' (at most 128, not starting with '.' or '-')", clip(r.Out))
	case r.Define != nil && r.Define.Name != r.Space:
		return Request{}, fmt.Errorf("request: define names space %q, not %q", clip(r.Define.Name), clip(r.Space))
	}
	return r, nil
}

// ParseHello reads the helper's hello line.
func ParseHello(line []byte) (Hello, error) {
	var h Hello
	if len(line) > MaxLine {
		return h, fmt.Errorf("hello of %d bytes: at most %d", len(line), MaxLine)
	}
	if err := json.Unmarshal(line, &h); err != nil {
		return Hello{}, fmt.Errorf("not a blockprof helper hello (%q): %w", clip(string(line)), err)
	}
	if h.Helper != "blockprof" {
		return Hello{}, fmt.Errorf("not a blockprof helper hello: %q", clip(string(line)))
	}
	if len(h.Build) != 64 || strings.Trim(h.Build, "0123456789abcdef") != "" {
		return Hello{}, fmt.Errorf("helper hello: build %q is not a SHA-256 in hex", clip(h.Build))
	}
	return h, nil
}

// ParseReply reads one reply line.
func ParseReply(line []byte) (Reply, error) {
	var r Reply
	if len(line) > MaxLine {
		return r, fmt.Errorf("reply of %d bytes: at most %d", len(line), MaxLine)
	}
	if err := json.Unmarshal(line, &r); err != nil {
		return Reply{}, fmt.Errorf("helper reply %q: %w", clip(string(line)), err)
	}
	if r.Error != "" {
		return r, nil
	}
	if r.Path == "" || r.Bytes <= 0 || len(r.SHA256) != 64 || strings.Trim(r.SHA256, "0123456789abcdef") != "" {
		return Reply{}, fmt.Errorf("helper reply %q: want path, bytes > 0 and a hex sha256", clip(string(line)))
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
