package ort

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"blockprof/model/modeltest"
	"blockprof/model/onnx"
)

// BenchmarkLoadPeakRSS measures what loading one model costs in resident
// memory: the peak (VmHWM) above the process's resident set once ONNX
// Runtime is loaded, from the start of the export to the session being
// ready, for the smallest and largest ofa-mbv3-w1.0 nets at 224, with the
// model exported into memory and loaded from there ("memory", the device's
// path before issue 14), streamed whole to a file ONNX Runtime reads
// ("file"), or written as a graph with batch normalisation folded whose
// weights are windows of a weight file ONNX Runtime maps ("external", the
// device's path now: the weight
// file is written before the peak is reset, as a device reuses it from
// its first arch on). Each load runs in a fresh process (this test
// binary, TestLoadPeakChild) so that no load inherits another's freed
// memory. It reports "<net>-<way>-MB": the peak above the baseline.
func BenchmarkLoadPeakRSS(b *testing.B) {
	if _, err := FindLibrary(""); err != nil {
		b.Skipf("skipping: needs the ONNX Runtime library: %v", err)
	}
	for b.Loop() {
		for _, net := range []string{"min", "max"} {
			for _, way := range []string{"memory", "file", "external"} {
				cmd := exec.Command(os.Args[0], "-test.run=^TestLoadPeakChild$", "-test.v")
				cmd.Env = append(os.Environ(), "BLOCKPROF_LOAD_CHILD="+net+","+way)
				out, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("%s %s: %v\n%s", net, way, err, out)
				}
				peak, base, err := parseLoadPeak(out)
				if err != nil {
					b.Fatalf("%s %s: %v\n%s", net, way, err, out)
				}
				b.ReportMetric(float64(peak-base)/1024, net+"-"+way+"-MB")
			}
		}
	}
}

// parseLoadPeak reads the child's "load-peak-kB P base-kB B" line.
func parseLoadPeak(out []byte) (peak, base int64, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		for i := 0; i+3 < len(f); i++ {
			if f[i] == "load-peak-kB" && f[i+2] == "base-kB" {
				if peak, err = strconv.ParseInt(f[i+1], 10, 64); err != nil {
					return 0, 0, err
				}
				base, err = strconv.ParseInt(f[i+3], 10, 64)
				return peak, base, err
			}
		}
	}
	return 0, 0, fmt.Errorf("no load-peak-kB line")
}

// TestLoadPeakChild is BenchmarkLoadPeakRSS's child process: it loads one
// model as BLOCKPROF_LOAD_CHILD says and logs the peak. It is skipped
// unless the benchmark started it.
func TestLoadPeakChild(t *testing.T) {
	spec := os.Getenv("BLOCKPROF_LOAD_CHILD")
	if spec == "" {
		t.Skip("the child process of BenchmarkLoadPeakRSS")
	}
	which, way, _ := strings.Cut(spec, ",")
	rt := testRuntime(t)
	sp := modeltest.Space(t, "ofa-mbv3-w1.0")
	arch := sp.MinArch(224)
	if which == "max" {
		arch = sp.MaxArch(224)
	}
	net, err := sp.Network(arch)
	if err != nil {
		t.Fatal(err)
	}
	opts := cpuOptions()
	var work *workDir
	if way == "external" {
		work = testWorkDir(t)
		// The device's steady state: the weight file already holds the
		// regions this net needs.
		if _, err := onnx.WriteExternal(io.Discard, net, onnx.Options{Seed: weightSeed, FoldBN: true}, work.weights); err != nil {
			t.Fatal(err)
		}
	}
	base := vmKB(t, "VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak: %v", err)
	}
	var s *Session
	switch way {
	case "memory":
		if s, err = loadViaMemory(rt, net, opts); err != nil {
			t.Fatal(err)
		}
	case "file":
		if s, err = loadViaFile(rt, t.TempDir(), net, opts); err != nil {
			t.Fatal(err)
		}
	case "external":
		if s, err = work.load(context.Background(), rt, net, onnx.Options{Seed: weightSeed, FoldBN: true}, opts); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("BLOCKPROF_LOAD_CHILD=%q: want min|max,memory|file|external", spec)
	}
	peak := vmKB(t, "VmHWM")
	s.Close()
	t.Logf("load-peak-kB %d base-kB %d", peak, base)
}

// vmKB reads a kB field of /proc/self/status.
func vmKB(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field+":" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}
