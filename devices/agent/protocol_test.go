package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"

	"blockprof/devices/safetext"
)

const goodHello = `{"hello":"blockprof-agent","protocol":1,"agent":"torch_agent.py","version":"1.0.0","runtime":"pytorch","runtime_version":"2.3.0","host":"gpu1","cpu":"AMD EPYC 9654","threads":8,"cuda":true,"gpu":"NVIDIA H100 80GB HBM3","gpus":1,"cuda_version":"12.1","targets":["cpu","cuda"]}`

func TestParseHello(t *testing.T) {
	h, err := ParseHello([]byte(goodHello))
	if err != nil {
		t.Fatal(err)
	}
	if h.Runtime != "pytorch" || h.RuntimeVersion != "2.3.0" || h.GPU != "NVIDIA H100 80GB HBM3" || h.Threads != 8 || !h.CUDA || len(h.Targets) != 2 {
		t.Errorf("hello %+v", h)
	}
	// An agent that cannot work says so in its hello.
	h, err = ParseHello([]byte(`{"hello":"blockprof-agent","protocol":1,"error":"cannot import torch"}`))
	if err != nil || h.Error != "cannot import torch" {
		t.Errorf("hello with error: %+v, %v", h, err)
	}
	// Unknown fields are for newer agents: ignored.
	if _, err := ParseHello([]byte(`{"hello":"blockprof-agent","protocol":1,"npu":"Ascend"}`)); err != nil {
		t.Errorf("unknown field: %v", err)
	}
	for _, c := range []struct{ line, want string }{
		{"", "not a JSON object"},
		{"Loading model...", "not a JSON object"},
		{`{"hello":"something-else","protocol":1}`, "not a hello"},
		{`{"protocol":1}`, "not a hello"},
		{`{"hello":"blockprof-agent","protocol":2}`, "protocol 2"},
		{`{"hello":"blockprof-agent"}`, "protocol 0"},
		{`{"hello":"blockprof-agent","protocol":1,"threads":-1}`, "negative"},
		{`{"hello":"blockprof-agent","protocol":1} trailing`, "not a JSON object"},
		{`[1,2]`, "not a JSON object"},
	} {
		_, err := ParseHello([]byte(c.line))
		var re *ReplyError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseHello(%q) = %v, want a *ReplyError mentioning %q", c.line, err, c.want)
			continue
		}
		if re.Raw != c.line {
			t.Errorf("raw %q, want %q", re.Raw, c.line)
		}
	}
}

func TestParseResponse(t *testing.T) {
	r, err := ParseResponse([]byte(`{"id":7,"samples_ms":[1.5,1.25,0],"warmup":10,"mode":"cuda-graph","device":"NVIDIA H100"}`), 7, false)
	if err != nil || len(r.SamplesMs) != 3 || r.Warmup != 10 || r.Mode != "cuda-graph" || r.Device != "NVIDIA H100" {
		t.Fatalf("%+v, %v", r, err)
	}
	r, err = ParseResponse([]byte(`{"id":7,"error":"CUDA out of memory"}`), 7, false)
	if err != nil || r.Error != "CUDA out of memory" {
		t.Errorf("error reply: %+v, %v", r, err)
	}
	r, err = ParseResponse([]byte(`{"id":null,"error":"bad request (not JSON)"}`), 7, false)
	if err != nil || !strings.Contains(r.Error, "could not read the request") {
		t.Errorf("unreadable request: %+v, %v", r, err)
	}
	r, err = ParseResponse([]byte(`{"id":3,"macs":218992112,"params":7608064,"layers":27}`), 3, true)
	if err != nil || r.MACs != 218992112 || r.Params != 7608064 || r.Layers != 27 {
		t.Errorf("count reply: %+v, %v", r, err)
	}
	for _, c := range []struct {
		line  string
		count bool
		want  string
	}{
		{`Segmentation fault`, false, "not a JSON object"},
		{`{"id":7}`, false, "neither samples_ms nor error"},
		{`{"id":7,"samples_ms":[]}`, false, "neither"},
		{`{"id":8,"samples_ms":[1]}`, false, "reply to request 8, expected 7"},
		{`{"samples_ms":[1]}`, false, "no id"},
		{`{"id":"7","samples_ms":[1]}`, false, "not a JSON object"},
		{`{"id":7,"samples_ms":[1,-2]}`, false, "sample 2"},
		{`{"id":7,"samples_ms":[NaN]}`, false, "not a JSON object"},
		{`{"id":7,"samples_ms":[1e999]}`, false, "not a JSON object"},
		{`{"id":7,"samples_ms":["1"]}`, false, "not a JSON object"},
		{`{"id":7,"samples_ms":[1],"warmup":-1}`, false, "negative warmup"},
		{`{"id":7,"samples_ms":[1]}{"id":8}`, false, "not a JSON object"},
		{`{"id":7,"samples_ms":[1]}`, true, "positive macs"},
		{`{"id":7,"macs":0,"params":5}`, true, "positive macs"},
	} {
		_, err := ParseResponse([]byte(c.line), 7, c.count)
		var re *ReplyError
		if !errors.As(err, &re) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseResponse(%q) = %v, want a *ReplyError mentioning %q", c.line, err, c.want)
		}
	}
}

func TestReplyErrorKeepsRawTruncated(t *testing.T) {
	line := "junk " + strings.Repeat("x", 5000) + " end"
	_, err := ParseResponse([]byte(line), 1, false)
	var re *ReplyError
	if !errors.As(err, &re) {
		t.Fatal(err)
	}
	if len(re.Raw) > rawLimit+10 || !strings.HasPrefix(re.Raw, "junk ") || !strings.HasSuffix(re.Raw, " end") {
		t.Errorf("raw kept %d bytes: %.40q…", len(re.Raw), re.Raw)
	}
}

func TestReadLine(t *testing.T) {
	long := strings.Repeat("y", 200<<10)
	r := bufio.NewReaderSize(strings.NewReader("a\r\n"+long+"\nlast"), 4096)
	for _, want := range []string{"a", long} {
		got, err := readLine(r)
		if err != nil || string(got) != want {
			t.Fatalf("readLine = %d bytes, %v; want %d bytes", len(got), err, len(want))
		}
	}
	got, err := readLine(r)
	if string(got) != "last" || err != io.EOF {
		t.Errorf("last line without newline: %q, %v", got, err)
	}
	if _, err := readLine(r); err != io.EOF {
		t.Errorf("after the end: %v", err)
	}
	huge := bufio.NewReaderSize(strings.NewReader(strings.Repeat("z", maxLine+10)+"\n"), 4096)
	got, err = readLine(huge)
	if !errors.Is(err, errLineTooLong) || len(got) > maxLine+rawLimit {
		t.Errorf("over-long line: %d bytes, %v", len(got), err)
	}
}

// FuzzParseHello: never panics; an accepted hello has the tag and
// protocol.
func FuzzParseHello(f *testing.F) {
	f.Add([]byte(goodHello))
	f.Add([]byte(`{"hello":"blockprof-agent","protocol":1,"error":"x"}`))
	f.Add([]byte(`{"hello":"blockprof-agent","protocol":1,"threads":-1}`))
	f.Add([]byte("Loading model..."))
	f.Add([]byte(`{"hello":1}`))
	f.Add([]byte(hostileHello))
	f.Fuzz(func(t *testing.T, line []byte) {
		h, err := ParseHello(line)
		if err != nil {
			var re *ReplyError
			if !errors.As(err, &re) || len(re.Raw) > rawLimit+10 {
				t.Fatalf("error %v is not a bounded *ReplyError", err)
			}
			return
		}
		if h.Hello != helloTag || h.Protocol != ProtocolVersion || h.Threads < 0 || h.GPUs < 0 {
			t.Fatalf("accepted %+v", h)
		}
		if err := helloSafe(h); err != nil {
			t.Fatal(err)
		}
	})
}

// helloSafe checks that every text of an accepted hello is safe for a
// terminal, the descriptions on one line.
func helloSafe(h Hello) error {
	for _, f := range append([]string{h.Agent, h.Version, h.Runtime, h.RuntimeVersion, h.Python, h.Host, h.CPU, h.GPU, h.CUDAVersion}, h.Targets...) {
		if !safetext.Safe(f) || strings.ContainsAny(f, "\n\t") {
			return fmt.Errorf("hello keeps %q", f)
		}
	}
	if !safetext.Safe(h.Error) {
		return fmt.Errorf("hello error keeps %q", h.Error)
	}
	return nil
}

// hostileHello is a hello whose every text tries to act on the terminal:
// an OSC title with BEL, a clear screen, the C1 CSI, NUL, a bidi override
// and a newline that would fake a line of `devices --check`.
const hostileHello = `{"hello":"blockprof-agent","protocol":1,"agent":"a\u001b]0;pwned\u0007","version":"1\u001b[2J",` +
	`"runtime":"torch\u009b31m","runtime_version":"2\u0000","host":"box\u202e","cpu":"x\n  other: ok: fake",` +
	`"gpu":"GPU\u001b[5A","cuda_version":"12\u007f","targets":["cuda","\u001bc"],"error":""}`

// TestHostileAgentTexts: what an agent writes in its hello and replies is
// escaped when it is parsed, before it can reach Info or an error.
func TestHostileAgentTexts(t *testing.T) {
	h, err := ParseHello([]byte(hostileHello))
	if err != nil {
		t.Fatal(err)
	}
	if err := helloSafe(h); err != nil {
		t.Fatal(err)
	}
	if h.Agent != `a\x1b]0;pwned\x07` || h.CPU != `x\n  other: ok: fake` || h.Runtime != `torch\u009b31m` || h.Targets[0] != "cuda" {
		t.Errorf("escaped hello %+v", h)
	}
	r, err := ParseResponse([]byte(`{"id":7,"error":"CUDA error\u001b]2;t\u0007\nline 2\u009b"}`), 7, false)
	if err != nil || r.Error != `CUDA error\x1b]2;t\x07`+"\n"+`line 2\u009b` {
		t.Errorf("error reply %q, %v", r.Error, err)
	}
	r, err = ParseResponse([]byte(`{"id":null,"error":"\u001b[2Jbad"}`), 7, false)
	if err != nil || !safetext.Safe(r.Error) {
		t.Errorf("unreadable-request reply %q, %v", r.Error, err)
	}
	r, err = ParseResponse([]byte(`{"id":7,"samples_ms":[1],"mode":"cuda\u001b[1m","device":"H100\n"}`), 7, false)
	if err != nil || r.Mode != `cuda\x1b[1m` || r.Device != `H100\n` {
		t.Errorf("reply mode %q device %q, %v", r.Mode, r.Device, err)
	}
}

// FuzzParseResponse: never panics; an accepted reply answers the request
// with an error or with usable numbers.
func FuzzParseResponse(f *testing.F) {
	f.Add([]byte(`{"id":7,"samples_ms":[1.5,1.25],"warmup":10,"mode":"cuda-graph"}`), false)
	f.Add([]byte(`{"id":7,"error":"boom"}`), false)
	f.Add([]byte(`{"id":null,"error":"bad"}`), false)
	f.Add([]byte(`{"id":7,"macs":10,"params":2,"layers":1}`), true)
	f.Add([]byte(`{"id":7,"samples_ms":[-1]}`), false)
	f.Add([]byte(`{"id":8}`), false)
	f.Add([]byte(`{"id":7,"error":"\u001b]0;t\u0007\u009b2J"}`), false)
	f.Add([]byte(`{"id":7,"samples_ms":[1],"mode":"\u001b[2J","device":"a\nb"}`), false)
	f.Fuzz(func(t *testing.T, line []byte, count bool) {
		r, err := ParseResponse(line, 7, count)
		if err != nil {
			var re *ReplyError
			if !errors.As(err, &re) || len(re.Raw) > rawLimit+10 {
				t.Fatalf("error %v is not a bounded *ReplyError", err)
			}
			return
		}
		if r.ID != 7 {
			t.Fatalf("accepted a reply to %d", r.ID)
		}
		if !safetext.Safe(r.Error) || !safetext.Safe(r.Mode) || !safetext.Safe(r.Device) || strings.ContainsAny(r.Mode+r.Device, "\n\t") {
			t.Fatalf("accepted texts %q %q %q", r.Error, r.Mode, r.Device)
		}
		if r.Error != "" {
			return
		}
		if count {
			if r.MACs <= 0 || r.Params <= 0 {
				t.Fatalf("accepted count %+v", r)
			}
			return
		}
		if len(r.SamplesMs) == 0 || r.Warmup < 0 {
			t.Fatalf("accepted %+v", r)
		}
		for _, v := range r.SamplesMs {
			if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
				t.Fatalf("accepted sample %v", v)
			}
		}
	})
}
