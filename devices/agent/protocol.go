package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"

	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
)

// ProtocolVersion is the agent protocol version blockprof speaks.
const ProtocolVersion = 1

// helloTag is the value of a hello line's "hello" field.
const helloTag = "blockprof-agent"

// Hello is the first line an agent prints: who it is and what it found.
type Hello struct {
	Hello    string `json:"hello"`
	Protocol int    `json:"protocol"`
	// Agent and Version name the agent program ("torch_agent.py", "1.0.0").
	Agent   string `json:"agent"`
	Version string `json:"version"`
	// Runtime and RuntimeVersion name the framework ("pytorch", "2.3.0").
	Runtime        string `json:"runtime"`
	RuntimeVersion string `json:"runtime_version"`
	Python         string `json:"python,omitempty"`
	Host           string `json:"host,omitempty"`
	CPU            string `json:"cpu,omitempty"`
	Threads        int    `json:"threads,omitempty"`
	CUDA           bool   `json:"cuda,omitempty"`
	GPU            string `json:"gpu,omitempty"`
	GPUs           int    `json:"gpus,omitempty"`
	CUDAVersion    string `json:"cuda_version,omitempty"`
	// Targets are the targets it can time on ("cpu", "cuda").
	Targets []string `json:"targets,omitempty"`
	// Error says why the agent cannot work (e.g. no PyTorch); it exits
	// after saying so.
	Error string `json:"error,omitempty"`
}

// Request asks the agent to time one network.
type Request struct {
	ID           int64          `json:"id"`
	Arch         string         `json:"arch"`
	Network      *model.Network `json:"network"`
	Batch        int            `json:"batch"`
	Warmup       int            `json:"warmup"`
	Repeat       int            `json:"repeat"`
	MaxRepeat    int            `json:"max_repeat"`
	TargetSpread float64        `json:"target_spread"`
	Precision    string         `json:"precision"`
	Mode         string         `json:"mode"`
	Target       string         `json:"target"`
	ChannelsLast bool           `json:"channels_last,omitempty"`
	Threads      int            `json:"threads,omitempty"`
	Seed         uint64         `json:"seed"`
}

// CountRequest asks the agent for the MACs and parameters of the network
// it builds (a structure check; nothing is timed).
type CountRequest struct {
	ID      int64          `json:"id"`
	Count   bool           `json:"count"`
	Network *model.Network `json:"network"`
}

// Response is the agent's answer to one request: samples, counts or an
// error.
type Response struct {
	ID int64 `json:"id"`
	// SamplesMs are the timed runs in milliseconds.
	SamplesMs []float64 `json:"samples_ms,omitempty"`
	Warmup    int       `json:"warmup,omitempty"`
	// Mode is how it ran: "cuda-graph", "cuda-eager", "cpu-eager".
	Mode   string `json:"mode,omitempty"`
	Device string `json:"device,omitempty"`
	// MACs, Params and Layers answer a CountRequest.
	MACs   int64 `json:"macs,omitempty"`
	Params int64 `json:"params,omitempty"`
	Layers int   `json:"layers,omitempty"`
	// Error is the agent's own account of a failed request.
	Error string `json:"error,omitempty"`
}

// ReplyError is a line from the agent that does not follow the protocol.
// Raw keeps (the start and end of) the line for the log.
type ReplyError struct {
	Problem string
	Raw     string
}

// rawLimit bounds ReplyError.Raw.
const rawLimit = 512

func (e *ReplyError) Error() string {
	return fmt.Sprintf("garbled reply from the agent (%s): %q", e.Problem, e.Raw)
}

func replyErr(line []byte, format string, args ...any) error {
	return &ReplyError{Problem: fmt.Sprintf(format, args...), Raw: transport.Excerpt(string(line), rawLimit)}
}

// ParseHello reads an agent's hello line.
func ParseHello(line []byte) (Hello, error) {
	var h Hello
	if err := strictJSON(line, &h); err != nil {
		return Hello{}, replyErr(line, "hello is not a JSON object: %v", err)
	}
	if h.Hello != helloTag {
		return Hello{}, replyErr(line, "the first line is not a hello (no \"hello\": %q)", helloTag)
	}
	if h.Protocol != ProtocolVersion {
		return Hello{}, replyErr(line, "the agent speaks protocol %d, blockprof speaks %d: use the torch_agent.py of this blockprof", h.Protocol, ProtocolVersion)
	}
	if h.Threads < 0 || h.GPUs < 0 {
		return Hello{}, replyErr(line, "negative thread or GPU count")
	}
	return h.escaped(), nil
}

// escaped returns the hello with every text the agent wrote made safe for
// a terminal (safetext): the descriptions go into the device's Info, on
// one line each, and the error into a message.
func (h Hello) escaped() Hello {
	for _, f := range []*string{&h.Agent, &h.Version, &h.Runtime, &h.RuntimeVersion, &h.Python, &h.Host, &h.CPU, &h.GPU, &h.CUDAVersion} {
		*f = safetext.Line(*f)
	}
	h.Targets = slices.Clone(h.Targets)
	for i, t := range h.Targets {
		h.Targets[i] = safetext.Line(t)
	}
	h.Error = safetext.Escape(h.Error)
	return h
}

// ParseResponse reads the reply to request id. count says it answers a
// CountRequest. An agent's error reply is returned as a Response with
// Error set, not as an error: the error result is for replies that break
// the protocol (*ReplyError).
func ParseResponse(line []byte, id int64, count bool) (Response, error) {
	var raw struct {
		ID *int64 `json:"id"`
		Response
	}
	if err := strictJSON(line, &raw); err != nil {
		return Response{}, replyErr(line, "not a JSON object: %v", err)
	}
	r := raw.Response
	// The agent's texts reach messages and the store: make them safe for a
	// terminal (safetext).
	r.Error, r.Mode, r.Device = safetext.Escape(r.Error), safetext.Line(r.Mode), safetext.Line(r.Device)
	if raw.ID == nil {
		if r.Error != "" {
			// The agent could not read the request at all.
			r.ID = id
			r.Error = "the agent could not read the request: " + r.Error
			return r, nil
		}
		return Response{}, replyErr(line, "no id")
	}
	r.ID = *raw.ID
	if r.ID != id {
		return Response{}, replyErr(line, "reply to request %d, expected %d", r.ID, id)
	}
	if r.Error != "" {
		return Response{ID: r.ID, Error: r.Error}, nil
	}
	if count {
		if r.MACs <= 0 || r.Params <= 0 || r.Layers < 0 {
			return Response{}, replyErr(line, "a count reply needs positive macs and params")
		}
		return r, nil
	}
	if len(r.SamplesMs) == 0 {
		return Response{}, replyErr(line, "neither samples_ms nor error")
	}
	for i, v := range r.SamplesMs {
		if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
			return Response{}, replyErr(line, "sample %d is %v, not a latency", i+1, v)
		}
	}
	if r.Warmup < 0 {
		return Response{}, replyErr(line, "negative warmup %d", r.Warmup)
	}
	return r, nil
}

// strictJSON decodes one JSON object and nothing after it.
func strictJSON(line []byte, v any) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return errors.New("does not start with '{'")
	}
	return json.Unmarshal(line, v)
}

// maxLine bounds one protocol line (a reply of 100,000 samples fits).
const maxLine = 8 << 20

// errLineTooLong is a line over maxLine.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", maxLine)

// readLine reads one line without its end; a last line without a newline
// is returned with io.EOF. A line over maxLine is errLineTooLong, with its
// start.
func readLine(r *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(line)+len(chunk) > maxLine {
			return append(line, chunk[:min(len(chunk), rawLimit)]...), errLineTooLong
		}
		line = append(line, chunk...)
		switch {
		case err == nil:
			return bytes.TrimRight(line, "\r\n"), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, io.EOF
		default:
			return nil, err
		}
	}
}
