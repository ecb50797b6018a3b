package transport

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"blockprof/devices"
	"blockprof/devices/safetext"
)

func TestQuote(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", "''"},
		{"plain", "plain"},
		{"/tmp/blockprof.Ab12/model.onnx", "/tmp/blockprof.Ab12/model.onnx"},
		{"--onnx=model", "'--onnx=model'"}, // '=' would make a first word an assignment
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"'", `''\'''`},
		{"$(x)", "'$(x)'"},
		{"a\nb", "'a\nb'"},
		{"~", "'~'"},
		{"*", "'*'"},
		{"ü", "'ü'"},
	} {
		if got := Quote(c.in); got != c.want {
			t.Errorf("Quote(%q) = %s, want %s", c.in, got, c.want)
		}
	}
	if got := QuoteArgs([]string{"printf", "%s", "a b"}); got != "printf %s 'a b'" {
		t.Errorf("QuoteArgs = %s", got)
	}
}

// hostile returns arguments that would run commands if pasted into a shell
// unquoted or badly quoted; every command they would run touches a file in
// canary or removes canary/keep.
func hostile(canary string) []string {
	c := canary + "/"
	return []string{
		"; touch " + c + "semicolon",
		"$(touch " + c + "dollar)",
		"`touch " + c + "backtick`",
		"'; touch " + c + "quote; echo '",
		`"; touch ` + c + `dquote; echo "`,
		"x\ntouch " + c + "newline",
		"x\r\ntouch " + c + "crlf",
		"&& touch " + c + "and",
		"|| touch " + c + "or",
		"| tee " + c + "pipe",
		"> " + c + "redirect",
		"; rm -rf " + c + "keep",
		"$(rm -rf " + c + "keep)",
		"'$(touch " + c + "mixed)'\"`touch " + c + "mixed2`\"",
		`\'; touch ` + c + "backslash; echo \\'",
		"$HOME ${PATH} ~ * ? [a] {a,b}",
		"-n", "--", "", "  spaced  out  ", "tab\there", `back\slash\`, "FOO=bar", "#comment",
		"!!", "'", "''", `\`, "%s %d %%", "ünïcödé ✓", "\x01\x7f",
	}
}

// canaryDir is a directory with one entry, keep/, that hostile arguments
// would remove; checkCanary fails if anything changed in it.
func canaryDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func checkCanary(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"keep"}) {
		t.Fatalf("a hostile argument ran a command: canary directory holds %v, want [keep]", names)
	}
}

// splitNUL splits printf '%s\000' output.
func splitNUL(b []byte) []string {
	s := strings.Split(string(b), "\x00")
	return s[:len(s)-1]
}

func TestQuoteShells(t *testing.T) {
	canary := canaryDir(t)
	args := hostile(canary)
	for _, sh := range []string{"sh", "bash", "dash", "zsh", "ksh", "mksh", "busybox"} {
		path, err := exec.LookPath(sh)
		if err != nil {
			continue
		}
		argv := []string{path, "-c", "printf '%s\\000' " + QuoteArgs(args)}
		if sh == "busybox" {
			argv = []string{path, "sh", "-c", argv[2]}
		}
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Fatalf("%s: %v", sh, err)
		}
		if got := splitNUL(out); !slices.Equal(got, args) {
			t.Errorf("%s: arguments changed on the way:\n got %q\nwant %q", sh, got, args)
		}
		checkCanary(t, canary)
	}
}

// FuzzQuote checks that /bin/sh reads Quote(s) back as exactly s and runs
// nothing else.
func FuzzQuote(f *testing.F) {
	for _, s := range hostile("/nonexistent") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.IndexByte(s, 0) >= 0 {
			return // no argv can hold a NUL
		}
		out, err := exec.Command("/bin/sh", "-c", "printf '%s' "+Quote(s)+"; printf '\\000end'").Output()
		if err != nil {
			t.Fatalf("sh failed on %q: %v", Quote(s), err)
		}
		if want := s + "\x00end"; string(out) != want {
			t.Fatalf("sh read %q back as %q", s, out)
		}
	})
}

func TestCheckArgvAndName(t *testing.T) {
	for _, argv := range [][]string{nil, {""}, {"echo", "a\x00b"}} {
		if err := checkArgv(argv); err == nil {
			t.Errorf("checkArgv(%q) accepted", argv)
		}
	}
	for _, name := range []string{"", ".", "..", "../x", "a/b", "-x", ".hidden", "a b", "a;b", strings.Repeat("a", 129)} {
		if err := checkName(name); err == nil {
			t.Errorf("checkName(%q) accepted", name)
		}
	}
	for _, name := range []string{"model.onnx", "torch_agent.py", "a-b_c.1"} {
		if err := checkName(name); err != nil {
			t.Errorf("checkName(%q): %v", name, err)
		}
	}
	for _, dir := range []string{"", "/", "relative/blockprof.abcdef", "/tmp/blockprof.", "/tmp/x", "/tmp/blockprof.abc def", "/tmp/../blockprof.abcdef", "/tmp/blockprof.abcdef\n/etc"} {
		if err := checkTempDir(dir); err == nil {
			t.Errorf("checkTempDir(%q) accepted", dir)
		}
	}
	if err := checkTempDir("/data/local/tmp/blockprof.Xy12Ab34"); err != nil {
		t.Error(err)
	}
}

// conformance runs what every transport must do; tr runs on this machine's
// file system (local, loopback ssh, fake adb), so the test can look.
func conformance(t *testing.T, tr Transport) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("hostile argv", func(t *testing.T) {
		canary := canaryDir(t)
		args := hostile(canary)
		res, err := tr.Run(ctx, append([]string{"printf", `%s\000`}, args...))
		if err != nil {
			t.Fatal(err)
		}
		if got := splitNUL(res.Stdout); !slices.Equal(got, args) {
			t.Errorf("arguments changed on the way:\n got %q\nwant %q", got, args)
		}
		checkCanary(t, canary)
		// A hostile program name is one word too.
		_, err = tr.Run(ctx, []string{"true; touch " + canary + "/argv0"})
		if err == nil {
			t.Error("a program named \"true; touch …\" ran")
		}
		checkCanary(t, canary)
	})

	t.Run("exit status", func(t *testing.T) {
		res, err := tr.Run(ctx, []string{"sh", "-c", "echo out; echo err >&2; exit 3"})
		var ee *ExitError
		if !errors.As(err, &ee) || ee.Code != 3 {
			t.Fatalf("want an *ExitError with status 3, got %v", err)
		}
		if errors.Is(err, ErrDisconnected) || errors.Is(err, devices.ErrTransient) {
			t.Errorf("a failing command counts as a lost connection: %v", err)
		}
		if res.Code != 3 || string(res.Stdout) != "out\n" || !strings.Contains(string(res.Stderr), "err") ||
			!strings.Contains(string(res.Output), "out") || !strings.Contains(string(res.Output), "err") {
			t.Errorf("result %+v", res)
		}
		if !strings.Contains(err.Error(), "err") {
			t.Errorf("error %q does not show the output", err)
		}
	})

	t.Run("start", func(t *testing.T) {
		p, err := tr.Start(ctx, []string{"cat"})
		if err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(p.Stdout)
		for _, line := range []string{`{"id":1,"x":"a'b"}`, "second $(line)"} {
			if _, err := io.WriteString(p.Stdin, line+"\n"); err != nil {
				t.Fatal(err)
			}
			got, err := r.ReadString('\n')
			if err != nil || got != line+"\n" {
				t.Fatalf("echo: got %q, %v", got, err)
			}
		}
		p.Stdin.Close()
		if _, err := r.ReadString('\n'); err != io.EOF {
			t.Errorf("after EOF on stdin: %v, want io.EOF", err)
		}
		if err := p.Wait(); err != nil {
			t.Errorf("cat: %v", err)
		}
	})

	// A killed command never gets to print "finished" (left alone, it
	// would, after 30 s).
	t.Run("kill", func(t *testing.T) {
		p, err := tr.Start(ctx, []string{"sh", "-c", "sleep 30; echo finished"})
		if err != nil {
			t.Fatal(err)
		}
		out := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(p.Stdout) // ends with the process (or Kill's close)
			out <- b
		}()
		p.Kill()
		if err := p.Wait(); !errors.Is(err, ErrKilled) {
			t.Errorf("Wait after Kill: %v, want ErrKilled", err)
		}
		if b := <-out; strings.Contains(string(b), "finished") {
			t.Errorf("the killed command ran to its end: %q", b)
		}
	})

	t.Run("cancel", func(t *testing.T) {
		c, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		res, err := tr.Run(c, []string{"sh", "-c", "sleep 30; echo finished"})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Run past its deadline: %v, want context.DeadlineExceeded", err)
		}
		if strings.Contains(string(res.Output), "finished") {
			t.Errorf("the cancelled command ran to its end: %q", res.Output)
		}
	})

	var dir string
	t.Run("put", func(t *testing.T) {
		var err error
		if dir, err = tr.Dir(ctx); err != nil {
			t.Fatal(err)
		}
		if again, _ := tr.Dir(ctx); again != dir {
			t.Errorf("Dir changed: %s then %s", dir, again)
		}
		data := []byte("binary\x00data\n'quoted' $(not run)\n")
		path, err := tr.Put(ctx, "model.onnx", data)
		if err != nil {
			t.Fatal(err)
		}
		if path != dir+"/model.onnx" {
			t.Errorf("Put path %s, want %s/model.onnx", path, dir)
		}
		res, err := tr.Run(ctx, []string{"cat", path})
		if err != nil || !bytes.Equal(res.Stdout, data) {
			t.Errorf("read back %q, %v; want %q", res.Stdout, err, data)
		}
		for _, bad := range []string{"../escape", "a b", "$(x)", ""} {
			if _, err := tr.Put(ctx, bad, data); err == nil {
				t.Errorf("Put(%q) accepted", bad)
			}
		}
	})

	if err := tr.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if dir != "" {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("run directory %s still there after Close (%v)", dir, err)
		}
	}
	if _, err := tr.Run(ctx, []string{"true"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v, want ErrClosed", err)
	}
	if _, err := tr.Start(ctx, []string{"true"}); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close: %v, want ErrClosed", err)
	}
}

func TestLocal(t *testing.T) {
	tr := NewLocal()
	if !tr.Local() || tr.String() != "local" {
		t.Errorf("local transport says Local=%v, %q", tr.Local(), tr.String())
	}
	conformance(t, tr)
}

func TestLocalCloseKills(t *testing.T) {
	tr := NewLocal()
	p, err := tr.Start(context.Background(), []string{"sleep", "30"})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	tr.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrKilled) {
			t.Errorf("Wait: %v, want ErrKilled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not kill the started process")
	}
}

func TestLocalKillsGroup(t *testing.T) {
	// The started shell's child holds stdout open; killing the group ends
	// both, so Stdout reaches EOF promptly.
	tr := NewLocal()
	defer tr.Close()
	p, err := tr.Start(context.Background(), []string{"sh", "-c", "sleep 30 & wait"})
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(p.Stdout)
		read <- err
	}()
	time.Sleep(50 * time.Millisecond)
	p.Kill()
	select {
	case <-read:
	case <-time.After(10 * time.Second):
		t.Fatal("stdout still open 10s after Kill: the child survived")
	}
}

func TestLocalMissingProgram(t *testing.T) {
	tr := NewLocal()
	defer tr.Close()
	_, err := tr.Run(context.Background(), []string{"/nonexistent/blockprof-tool"})
	if err == nil || errors.Is(err, devices.ErrTransient) {
		t.Errorf("missing program: %v", err)
	}
	if _, err := tr.Start(context.Background(), []string{"/nonexistent/blockprof-tool"}); err == nil {
		t.Error("Start of a missing program succeeded")
	}
}

func TestStartStderrAndExit(t *testing.T) {
	tr := NewLocal()
	defer tr.Close()
	p, err := tr.Start(context.Background(), []string{"sh", "-c", "echo 'Traceback: boom' >&2; exit 7"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait()
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 7 || !strings.Contains(ee.Tail, "boom") {
		t.Fatalf("Wait: %v", err)
	}
	if !strings.Contains(p.Stderr(), "Traceback: boom") {
		t.Errorf("Stderr() = %q", p.Stderr())
	}
}

func TestADBFake(t *testing.T) {
	tr, err := NewADB(ADBOptions{Serial: "emulator-5554", ADB: fakeADB(t), TempBase: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if tr.Local() || tr.String() != "adb emulator-5554" {
		t.Errorf("adb transport says Local=%v, %q", tr.Local(), tr.String())
	}
	conformance(t, tr)
}

func TestADBOffline(t *testing.T) {
	tr, err := NewADB(ADBOptions{Serial: "offline", ADB: fakeADB(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	_, err = tr.Run(context.Background(), []string{"true"})
	if !errors.Is(err, ErrDisconnected) || !errors.Is(err, devices.ErrTransient) {
		t.Errorf("offline device: %v, want ErrDisconnected and devices.ErrTransient", err)
	}
	// The device's own "not found" is the command's failure, not adb's.
	if err := classifyADB(127, "sh: benchmark_model: not found\n"); err != nil {
		t.Errorf("a missing program on the device counts as a lost connection: %v", err)
	}
	if err := classifyADB(1, "adb: error: failed to get feature set: device 'X' not found\n"); !errors.Is(err, ErrDisconnected) {
		t.Errorf("adb's device-not-found: %v", err)
	}
	if err := classifyADB(1, "error: device unauthorized.\n"); err == nil || errors.Is(err, devices.ErrTransient) {
		t.Errorf("unauthorised device: %v, want a setup error", err)
	}
}

// fakeADB copies testdata/fake_adb.sh to an executable file.
func fakeADB(t *testing.T) string {
	t.Helper()
	src, err := os.ReadFile("testdata/fake_adb.sh")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "adb")
	if err := os.WriteFile(path, src, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestADBArgs(t *testing.T) {
	tr, err := NewADB(ADBOptions{Serial: "R58M"})
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Args([]string{"/data/local/tmp/benchmark_model", "--graph=/data/local/tmp/m.tflite", "a b"})
	want := []string{"adb", "-s", "R58M", "shell", "/data/local/tmp/benchmark_model '--graph=/data/local/tmp/m.tflite' 'a b'"}
	if !slices.Equal(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	if got := tr.wrap([]string{"cat"}, true); !slices.Equal(got, []string{"adb", "-s", "R58M", "shell", "-T", "cat"}) {
		t.Errorf("interactive args %q", got)
	}
}

func TestSSHArgs(t *testing.T) {
	tr, err := NewSSH(SSHOptions{Host: "gpu1.lab", User: "me", Port: 2222, Identity: "/home/me/.ssh/lab", Options: []string{"ControlMaster=no"}})
	if err != nil {
		t.Fatal(err)
	}
	if tr.String() != "ssh me@gpu1.lab:2222" || tr.Local() {
		t.Errorf("String %q Local %v", tr.String(), tr.Local())
	}
	argv := []string{"python3", "/tmp/blockprof.abcdef12/torch_agent.py", "$(reboot)"}
	got := tr.Args(argv)
	want := []string{"ssh",
		"-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=3",
		"-o", "Port=2222", "-o", "User=me", "-i", "/home/me/.ssh/lab", "-o", "IdentitiesOnly=yes", "-o", "ControlMaster=no",
		"-T", "--", "gpu1.lab", "python3 /tmp/blockprof.abcdef12/torch_agent.py '$(reboot)'"}
	if !slices.Equal(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	u, err := NewSSH(SSHOptions{Host: "root@10.0.0.5"})
	if err != nil || u.opts.User != "root" || u.opts.Host != "10.0.0.5" {
		t.Errorf("user@host: %+v, %v", u.opts, err)
	}
	v6, _ := NewSSH(SSHOptions{Host: "fe80::1"})
	if got := v6.scpTarget("/tmp/x"); got != "[fe80::1]:/tmp/x" {
		t.Errorf("scp target %q", got)
	}
}

func TestNewRejects(t *testing.T) {
	for _, o := range []SSHOptions{
		{},
		{Host: "-oProxyCommand=touch /tmp/pwned"},
		{Host: "a b"},
		{Host: "host;reboot"},
		{Host: "h\n"},
		{Host: "h", User: "-l"},
		{Host: "h", User: "a b"},
		{Host: "h", Port: 70000},
		{Host: "h", Identity: "-oProxyCommand=x"},
		{Host: "h", Options: []string{"-oProxyCommand=x"}},
		{Host: "h", Options: []string{"novalue"}},
		{Host: "h", TempBase: "tmp"},
		{Host: "h", TempBase: "/tmp/$(x)"},
	} {
		if _, err := NewSSH(o); err == nil {
			t.Errorf("NewSSH(%+v) accepted", o)
		}
	}
	for _, o := range []ADBOptions{{Serial: "-d"}, {Serial: "a b"}, {Serial: "x;y"}, {TempBase: "/data/../x"}} {
		if _, err := NewADB(o); err == nil {
			t.Errorf("NewADB(%+v) accepted", o)
		}
	}
}

func TestOpen(t *testing.T) {
	for _, c := range []struct {
		cfg  devices.Config
		want string // the transport's String, "" for an error
	}{
		{devices.Config{Name: "d"}, "local"},
		{devices.Config{Name: "d", Transport: "local"}, "local"},
		{devices.Config{Name: "d", Transport: "ssh", Host: "gpu", User: "u", Port: 22}, "ssh u@gpu:22"},
		{devices.Config{Name: "d", Transport: "adb", Serial: "R58"}, "adb R58"},
		{devices.Config{Name: "d", Transport: "ssh"}, ""},
		{devices.Config{Name: "d", Host: "gpu"}, ""},
		{devices.Config{Name: "d", Transport: "telnet"}, ""},
	} {
		tr, err := Open(c.cfg)
		switch {
		case c.want == "" && err == nil:
			t.Errorf("Open(%+v) accepted", c.cfg)
		case c.want != "" && err != nil:
			t.Errorf("Open(%+v): %v", c.cfg, err)
		case c.want != "" && tr.String() != c.want:
			t.Errorf("Open(%+v) = %s, want %s", c.cfg, tr.String(), c.want)
		}
		if err != nil && !strings.Contains(err.Error(), "device d") {
			t.Errorf("error %q does not name the device", err)
		}
	}
}

func TestClassifySSH(t *testing.T) {
	for _, c := range []struct {
		code      int
		stderr    string
		transient bool
		setup     bool
	}{
		{255, "ssh: connect to host 10.0.0.9 port 22: Connection refused\n", true, false},
		{255, "Connection to 10.0.0.9 closed by remote host.\n", true, false},
		{255, "Timeout, server 10.0.0.9 not responding.\n", true, false},
		{255, "", true, false},
		{255, "me@10.0.0.9: Permission denied (publickey).\n", false, true},
		{255, "Host key verification failed.\n", false, true},
		{255, "ssh: Could not resolve hostname gpu9: Name or service not known\n", false, true},
		{1, "cat: x: Permission denied\n", false, false}, // the remote command's failure
		{3, "Connection refused", false, false},
	} {
		err := classifySSH(c.code, c.stderr)
		var se *setupError
		if got := errors.Is(err, devices.ErrTransient); got != c.transient {
			t.Errorf("classifySSH(%d, %q) = %v: transient %v, want %v", c.code, c.stderr, err, got, c.transient)
		}
		if got := errors.As(err, &se); got != c.setup {
			t.Errorf("classifySSH(%d, %q) = %v: setup %v, want %v", c.code, c.stderr, err, got, c.setup)
		}
	}
}

func TestExcerptAndTail(t *testing.T) {
	long := strings.Repeat("x", 1000)
	if e := Excerpt(long, 100); len(e) > 110 || !strings.Contains(e, "…") {
		t.Errorf("Excerpt: %d bytes", len(e))
	}
	if got := tail([]byte("line1\nline2\nline3\n"), 9); got != "… line3\n" {
		t.Errorf("tail = %q", got)
	}
}

// hostileStderr are printf formats (octal escapes, as sh's printf reads
// them) of what a hostile or broken tool could print: a terminal title, a
// clear screen, colours and cursor moves, the C1 CSI, NUL, DEL, invalid
// UTF-8, a lone carriage return.
var hostileStderr = []string{
	`\033]0;pwned\007`,
	`\033[2J\033[H`,
	`\033[31mred\033[0m\033[5A`,
	`\302\2332J`,
	`a\000b\177c`,
	`\377\376\233`,
	`all good\rFAILED`,
}

// TestHostileOutputIsEscaped: a process's output reaches error messages
// (its exit, ssh's and adb's own failures) only through safetext, so it
// cannot act on the terminal that prints the error.
func TestHostileOutputIsEscaped(t *testing.T) {
	tr := NewLocal()
	defer tr.Close()
	ctx := context.Background()
	for _, payload := range hostileStderr {
		t.Run(payload, func(t *testing.T) {
			script := "printf '" + payload + "' >&2; exit 3"
			_, err := tr.Run(ctx, []string{"sh", "-c", script})
			var ee *ExitError
			if !errors.As(err, &ee) || ee.Tail == "" {
				t.Fatalf("Run: %v", err)
			}
			if !safetext.Safe(err.Error()) {
				t.Errorf("Run's error is not terminal-safe: %q", err)
			}
			p, err := tr.Start(ctx, []string{"sh", "-c", script})
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, p.Stdout)
			if err := p.Wait(); err == nil || !safetext.Safe(err.Error()) {
				t.Errorf("Wait's error is not terminal-safe: %q", err)
			}
			stderr := p.Stderr()
			for _, err := range []error{
				classifySSH(255, stderr),
				classifySSH(255, "Permission denied "+stderr),
				classifySSH(255, "Connection refused "+stderr),
				classifyADB(1, "error: device offline "+stderr),
				classifyADB(1, "error: unauthorized "+stderr),
			} {
				if err == nil || !safetext.Safe(err.Error()) || strings.Contains(err.Error(), "\n") {
					t.Errorf("classified error is not one terminal-safe line: %q", err)
				}
			}
		})
	}
}
