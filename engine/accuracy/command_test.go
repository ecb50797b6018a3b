package accuracy

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func needSh(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
}

func TestCommandSource(t *testing.T) {
	needSh(t)
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	a := sp.MaxArch(224)
	tests := []struct {
		name    string
		script  string
		timeout time.Duration
		want    float64
		wantErr []string
	}{
		// The evaluator sees the arch: it answers only when the canonical
		// string and the OFA encoding arrive on stdin.
		{"answers after logs", `read l; case "$l" in *'"ks":[7,7,7,7'*'"canonical":"ofa-mbv3-w1.0:224:e6k7'*) echo loading >&2; echo 'epoch 1/1'; echo '{"top1": 77.4, "top5": 93.1}';; *) echo "bad input $l"; exit 9;; esac`, 0, 77.4, nil},
		{"last answer wins", `echo '{"top1": 70}'; echo '{"top1": 71.5}'`, 0, 71.5, nil},
		{"non-zero exit", `echo 'CUDA out of memory' >&2; exit 3`, 0, 0, []string{"exit status 3", "CUDA out of memory"}},
		{"no answer", `echo 'accuracy is 77'`, 0, 0, []string{`no {"top1": ...} line`, "accuracy is 77"}},
		{"fraction", `echo '{"top1": "77"}'`, 0, 0, []string{"not a number"}},
		{"out of range", `echo '{"top1": 774}'`, 0, 0, []string{"outside 0..100"}},
		// Killed at the timeout: the evaluator never reaches its last line
		// (were it left to finish, stderr would end with it).
		{"timeout", `sleep 10; echo finished >&2`, 200 * time.Millisecond, 0, []string{"timed out after 200ms", "stderr was empty"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewCommand([]string{"sh", "-c", tc.script}, sp, CommandOptions{Timeout: tc.timeout})
			if err != nil {
				t.Fatal(err)
			}
			v, err := c.Top1(context.Background(), a)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("succeeded with %+v", v)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("err %q lacks %q", err, w)
					}
				}
				if !strings.Contains(err.Error(), a.String()) {
					t.Errorf("err %q does not name the arch", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if v.Top1 != tc.want || v.Provenance != Measured || v.Label != CommandLabel || v.Source != "command:sh" {
				t.Errorf("value %+v, want top1 %v measured", v, tc.want)
			}
		})
	}
}

func TestCommandCachesAndCancels(t *testing.T) {
	needSh(t)
	sp := loadSpace(t, "ofa-mbv3-w1.0")
	log := filepath.Join(t.TempDir(), "calls")
	c, err := NewCommand([]string{"sh", "-c", `echo x >> "$0"; echo '{"top1": 75}'`, log}, sp, CommandOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.Top1(context.Background(), sp.MinArch(224)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Top1(context.Background(), sp.MaxArch(224)); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	if n := strings.Count(string(b), "x"); n != 2 {
		t.Errorf("evaluator ran %d times for 2 distinct archs", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	slow, _ := NewCommand([]string{"sh", "-c", "sleep 10"}, sp, CommandOptions{})
	if _, err := slow.Top1(ctx, sp.MinArch(224)); err == nil {
		t.Error("cancelled context: no error")
	}
	if _, err := NewCommand(nil, sp, CommandOptions{}); err == nil {
		t.Error("empty argv accepted")
	}
	c2, _ := NewCommand([]string{"/nonexistent/evaluator"}, sp, CommandOptions{})
	if _, err := c2.Top1(context.Background(), sp.MinArch(224)); err == nil || !strings.Contains(err.Error(), "could not run") {
		t.Errorf("missing evaluator: %v", err)
	}
	// Stdin carries the OFA encoding and the canonical string.
	in := Input{Arch: sp.ToOFA(sp.MinArch(224)), Canonical: sp.MinArch(224).String()}
	js, _ := json.Marshal(in)
	if !strings.Contains(string(js), `"arch":{"ks":[3,3,0,0`) || !strings.Contains(string(js), `"canonical":"ofa-mbv3-w1.0:224:`) {
		t.Errorf("input %s", js)
	}
}

func TestParseEvaluatorOutput(t *testing.T) {
	tests := []struct {
		in   string
		want float64
		err  bool
	}{
		{`{"top1": 77.4}`, 77.4, false},
		{"log\n{\"top1\": 77.4}\n\n", 77.4, false},
		{"  {\"top1\":0}  ", 0, false},
		{`{"top1": 100}`, 100, false},
		{"{\"top1\": 70}\n{\"top5\": 90}", 70, false},
		{"{not json}\n{\"top1\": 70}", 70, false},
		{"", 0, true},
		{`{"top1": null}`, 0, true},
		{`{"top1": -1}`, 0, true},
		{`{"top1": 1e999}`, 0, true},
		{`top1: 77`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := ParseEvaluatorOutput([]byte(tc.in))
			if tc.err != (err != nil) || v != tc.want {
				t.Errorf("got %v, %v; want %v, error %v", v, err, tc.want, tc.err)
			}
		})
	}
}
