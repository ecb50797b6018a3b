package accuracy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"blockprof/devices/transport"
	"blockprof/model"
)

// CommandLabel is the label of values from the user's evaluator.
const CommandLabel = "measured (evaluator)"

// DefaultCommandTimeout bounds one evaluation when CommandOptions.Timeout
// is zero: an ImageNet validation pass of one subnet on one GPU.
const DefaultCommandTimeout = 30 * time.Minute

// maxOutput caps what is kept of the evaluator's stdout and stderr.
const maxOutput = 1 << 20

// CommandOptions tune NewCommand.
type CommandOptions struct {
	// Timeout bounds one evaluation (default DefaultCommandTimeout).
	Timeout time.Duration
	// Dir is the evaluator's working directory (default: the current one).
	Dir string
}

// CommandSource is the source kind "command": the user's evaluator, run
// once per arch (results are cached by canonical arch).
//
// Protocol: the evaluator's argv runs with one JSON line on stdin,
//
//	{"arch": {"ks": [...], "e": [...], "d": [...], "r": 224}, "canonical": "ofa-mbv3:224:..."}
//
// (the OFA encoding of model.OFA, plus blockprof's canonical string), and
// must print {"top1": 77.4} (percent) on a line of stdout; other lines
// (logs, progress) are ignored and the last such object wins. A non-zero
// exit, a missing or malformed top1, or the timeout is an error that quotes
// the end of the output.
type CommandSource struct {
	argv    []string
	sp      *model.Space
	timeout time.Duration
	dir     string

	mu    sync.Mutex
	cache map[string]Value
}

// NewCommand returns the evaluator source for argv.
func NewCommand(argv []string, sp *model.Space, opts CommandOptions) (*CommandSource, error) {
	if len(argv) == 0 || strings.TrimSpace(argv[0]) == "" {
		return nil, errors.New("accuracy command: empty argv; want e.g. [\"python3\", \"eval_ofa.py\", \"--imagenet\", \"/data/imagenet\"]")
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultCommandTimeout
	}
	return &CommandSource{argv: append([]string(nil), argv...), sp: sp, timeout: opts.Timeout, dir: opts.Dir, cache: map[string]Value{}}, nil
}

// Input is what the evaluator reads on stdin.
type Input struct {
	Arch      model.OFA `json:"arch"`
	Canonical string    `json:"canonical"`
}

// Top1 runs the evaluator on a (or returns the cached value).
func (c *CommandSource) Top1(ctx context.Context, a model.Arch) (Value, error) {
	key := a.String()
	c.mu.Lock()
	v, ok := c.cache[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	if err := c.sp.Check(a); err != nil {
		return Value{}, fmt.Errorf("accuracy command: %w", err)
	}
	in, err := json.Marshal(Input{Arch: c.sp.ToOFA(a), Canonical: key})
	if err != nil {
		return Value{}, fmt.Errorf("accuracy command: %w", err)
	}
	top1, err := c.run(ctx, append(in, '\n'))
	if err != nil {
		return Value{}, fmt.Errorf("accuracy command %s on %s: %w", c.argv[0], key, err)
	}
	v = Value{Top1: top1, Provenance: Measured, Label: CommandLabel, Source: "command:" + filepath.Base(c.argv[0])}
	c.mu.Lock()
	c.cache[key] = v
	c.mu.Unlock()
	return v, nil
}

func (c *CommandSource) run(ctx context.Context, stdin []byte) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.argv[0], c.argv[1:]...)
	cmd.Dir = c.dir
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr tailBuffer
	stdout.max, stderr.max = maxOutput, 64<<10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Do not wait forever for grandchildren that keep the pipes open.
	cmd.WaitDelay = 5 * time.Second
	// Its own process group, killed on timeout or cancellation, and by a
	// watchdog when blockprof dies: no evaluator outlives it.
	err := transport.RunGrouped(cmd)
	if ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return 0, fmt.Errorf("timed out after %v%s", c.timeout, excerpt("stderr", stderr.Bytes()))
		}
		return 0, ctx.Err()
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return 0, fmt.Errorf("exited with %v%s%s", ee.ProcessState, excerpt("stderr", stderr.Bytes()), excerpt("stdout", stdout.Bytes()))
		}
		return 0, fmt.Errorf("could not run: %w (is the evaluator installed and the command's path right?)", err)
	}
	top1, err := ParseEvaluatorOutput(stdout.Bytes())
	if err != nil {
		return 0, fmt.Errorf("%w%s", err, excerpt("stderr", stderr.Bytes()))
	}
	return top1, nil
}

// ParseEvaluatorOutput finds the evaluator's answer in its stdout: the last
// line that is a JSON object with a "top1" field, a finite percentage in
// 0..100. Other lines are ignored.
func ParseEvaluatorOutput(out []byte) (float64, error) {
	lines := bytes.Split(out, []byte("\n"))
	for i := len(lines) - 1; i >= 0; i-- {
		l := bytes.TrimSpace(lines[i])
		if len(l) < 2 || l[0] != '{' {
			continue
		}
		var r struct {
			Top1 *json.RawMessage `json:"top1"`
		}
		if json.Unmarshal(l, &r) != nil || r.Top1 == nil {
			continue
		}
		var v float64
		if err := json.Unmarshal(*r.Top1, &v); err != nil {
			return 0, fmt.Errorf("evaluator printed top1 %s, not a number%s", clip(string(*r.Top1)), excerpt("stdout", out))
		}
		if math.IsNaN(v) || v < 0 || v > 100 {
			return 0, fmt.Errorf("evaluator printed top1 %v, outside 0..100 (want a percentage such as 77.4)%s", v, excerpt("stdout", out))
		}
		return v, nil
	}
	return 0, fmt.Errorf("evaluator printed no {\"top1\": ...} line%s", excerpt("stdout", out))
}

// excerpt quotes the end of an output for an error message.
func excerpt(name string, b []byte) string {
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "; " + name + " was empty"
	}
	const n = 400
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return fmt.Sprintf("; %s ends: %q", name, s)
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) Bytes() []byte { return t.buf }
