package store

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"blockprof/devices"
)

// The crash and memory tests re-execute the test binary as a child that
// does the work (crashChild), so that it can be killed with SIGKILL or
// measured alone.
const (
	crashChildEnv = "BLOCKPROF_STORE_CHILD" // "crash" or "memory"
	crashPathEnv  = "BLOCKPROF_STORE_PATH"
	memoryNEnv    = "BLOCKPROF_STORE_N"
)

func crashChild() int {
	ctx := context.Background()
	s, err := Open(ctx, os.Getenv(crashPathEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if _, err := s.PutDevice(ctx, testDeviceConfig("d"), testDeviceInfo("d")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	switch os.Getenv(crashChildEnv) {
	case "crash":
		run, err := s.StartRun(ctx, RunInfo{Space: "test-space"}, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		w := bufio.NewWriter(os.Stdout)
		samples := make([]float64, 200)
		for i := 0; ; i++ {
			for j := range samples {
				samples[j] = float64(i + j)
			}
			if _, err := s.Put(ctx, meas("d", testArch(i), run, KindPlan, samples...)); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			// Reported only once committed.
			fmt.Fprintf(w, "%d\n", i)
			w.Flush()
		}
	case "memory":
		return memoryChild(ctx, s)
	}
	return 2
}

// TestCrashLosesOnlyTheMeasurementInFlight kills a writer with SIGKILL
// while it commits measurements back to back; every measurement it
// reported as committed must be there, at most one more, none twice.
func TestCrashLosesOnlyTheMeasurementInFlight(t *testing.T) {
	path := filepath.Join(t.TempDir(), "crash.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=crash", crashPathEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	last := -1
	for sc.Scan() {
		n, err := strconv.Atoi(sc.Text())
		if err != nil {
			t.Fatalf("child said %q", sc.Text())
		}
		last = n
		if n == 40 {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	err = cmd.Wait()
	if last < 40 {
		t.Fatalf("child stopped after %d measurements: %v\n%s", last+1, err, stderr.String())
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed by SIGKILL: %v\n%s", err, stderr.String())
	}

	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("store after kill -9: %v", err)
	}
	defer s.Close()
	recs, err := s.Query(ctx, Query{Samples: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		if seen[r.Arch] {
			t.Errorf("duplicate %s", r.Arch)
		}
		seen[r.Arch] = true
		if len(r.SamplesMs) != 200 {
			t.Errorf("%s: %d samples, want 200 (torn write?)", r.Arch, len(r.SamplesMs))
		}
	}
	for i := 0; i <= last; i++ {
		if !seen[testArch(i).Canonical] {
			t.Errorf("measurement %d was reported committed but is missing", i)
		}
	}
	if len(recs) > last+2 {
		t.Errorf("%d measurements stored, the child reported %d committed (at most one more may be in flight)", len(recs), last+1)
	}
	t.Logf("killed after %d reported commits; %d stored", last+1, len(recs))
}

func testDeviceConfig(name string) devices.Config { return devices.Config{Name: name, Kind: "sim"} }

func testDeviceInfo(name string) devices.Info {
	return devices.Info{Name: name, Kind: "sim", Provenance: devices.Simulated, Label: "simulated"}
}

// TestMemoryBigStore streams a big store (measurements of 50 samples)
// back in a child process whose peak RSS must stay well under 200 MB. It
// uses 20k measurements (a few seconds); BLOCKPROF_STORE_N=100000 checks
// the 100k figure (about 27 MB peak, some 10 s on 2 cores).
func TestMemoryBigStore(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("slow: a big store (skipped with -short and -race)")
	}
	n := 20000
	if v, err := strconv.Atoi(os.Getenv(memoryNEnv)); err == nil && v > 0 {
		n = v
	}
	path := filepath.Join(t.TempDir(), "big.db")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"=memory", crashPathEnv+"="+path, memoryNEnv+"="+strconv.Itoa(n))
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var rows int
	var hwmKB int64
	if _, err := fmt.Sscanf(string(out), "rows %d hwm_kb %d", &rows, &hwmKB); err != nil {
		t.Fatalf("child said %q: %v", out, err)
	}
	if rows != n {
		t.Errorf("streamed %d rows, want %d", rows, n)
	}
	if hwmKB > 150*1024 {
		t.Errorf("peak RSS %d MB, want well under 200 MB", hwmKB/1024)
	}
	t.Logf("%d measurements: peak RSS %d MB, %v", n, hwmKB/1024, time.Since(t0).Round(time.Millisecond))
}

func memoryChild(ctx context.Context, s *Store) int {
	n, _ := strconv.Atoi(os.Getenv(memoryNEnv))
	// Fill the store in SQL (the write path is tested elsewhere; this
	// test is about reading a big store back).
	samples := make([]string, 50)
	for j := range samples {
		samples[j] = strconv.FormatFloat(10+float64(j)/7, 'g', -1, 64)
	}
	ofa := `{"ks":[3,5,7],"e":[1,3,6],"d":[2,1],"r":160}`
	if err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ?)
			INSERT INTO archs(canonical, space, resolution, ofa, macs, params)
			SELECT 'test-space:160:e' || i || 'k3,e3k5/e6k7', 'test-space', 160, ?, 1000 + i, 10 + i FROM k`, n, ofa); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO measurements(device, arch, kind, samples_ms, n, median_ms, spread, warmup, mode, provenance, started, finished, fingerprint)
			SELECT 'd', id, 'plan', ?, 50, 13.5, 0.1, 10, 'test', 'simulated', '2026-03-01T12:00:00Z', '2026-03-01T12:00:01Z', ? FROM archs`,
			"["+strings.Join(samples, ",")+"]", testFP)
		return err
	}); err != nil {
		fmt.Println(err)
		return 2
	}
	rows := 0
	sum := 0.0
	for r, err := range s.Records(ctx, Query{Device: "d", Samples: true}) {
		if err != nil {
			fmt.Println(err)
			return 2
		}
		rows++
		sum += r.SamplesMs[0]
	}
	done, err := s.Done(ctx, "d", testFP, []string{testArch(0).Canonical})
	if err != nil || !done[testArch(0).Canonical] {
		fmt.Println("Done failed", err)
		return 2
	}
	status, _ := os.ReadFile("/proc/self/status")
	var hwm int64
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			hwm, _ = strconv.ParseInt(strings.Fields(line)[1], 10, 64)
		}
	}
	fmt.Printf("rows %d hwm_kb %d\n", rows, hwm)
	return 0
}
