package command

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"blockprof/devices"
	"blockprof/devices/transport"
	"blockprof/model"
	"blockprof/model/export"
	"blockprof/model/writers"
)

// TestPhonePathWithARealInterpreter drives the phone configuration of the
// README end to end, with the phone replaced by what this host has: a fake
// adb (devices/transport/testdata/fake_adb.sh: pushes are copies, shell
// commands run locally) and, in benchmark_model's place, a stand-in that
// takes its flags, runs the .tflite file in Arm NN's TFLite parser on its
// reference backend and prints benchmark_model's report
// (testdata/armnn_benchmark_model.py). What it checks: the format is
// inferred from the parser (tflite), blockprof's TFLite writer makes a file
// a real interpreter loads in fp32 and int8, the file crosses adb, the
// placeholders fill the real flags, benchmark_model's report is parsed and
// the record says tflite and the precision. The latencies are Arm NN's
// reference kernels on this host, not a phone's: the test prints them as
// such and asserts nothing about their size beyond being positive.
//
// Arm NN comes from Debian (python3-pyarmnn, libarmnntfliteparser22,
// libarmnn-cpuref-backend22); in CI (CI=true) a missing one fails the test.
func TestPhonePathWithARealInterpreter(t *testing.T) {
	const python = "/usr/bin/python3"
	probe := "import numpy, pyarmnn as a; a.ITfLiteParser(); r = a.IRuntime(a.CreationOptions()); a.Optimize"
	if out, err := exec.Command(python, "-c", probe).CombinedOutput(); err != nil {
		msg := "needs Arm NN's TFLite parser (apt-get install python3-pyarmnn libarmnntfliteparser22 libarmnn-cpuref-backend22): " + err.Error() + ": " + string(out)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	standIn, err := filepath.Abs(filepath.Join("testdata", "armnn_benchmark_model.py"))
	if err != nil {
		t.Fatal(err)
	}
	w := writers.New()
	writer := func(ctx context.Context, net *model.Network, spec devices.ModelSpec) ([]byte, error) {
		return w.Write(ctx, net, export.Request{Format: spec.Format, Precision: spec.Precision, Seed: spec.Seed, Batch: spec.Batch})
	}
	sp := testSpace(t)
	net := network(t, sp, sp.MinArch(160))
	for _, precision := range []string{"fp32", "int8"} {
		t.Run(precision, func(t *testing.T) {
			tr, err := transport.NewADB(transport.ADBOptions{Serial: "emulator-5554", ADB: fakeADB(t), TempBase: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			cfg := devices.Config{
				Name: "phone", Kind: "command", Transport: "adb", Parser: "benchmark_model", Precision: precision, Threads: 1,
				// The README's argv, with the stand-in where the phone's
				// /data/local/tmp/benchmark_model would be.
				Argv: []string{python, standIn, "--graph={model}", "--num_threads={threads}", "--num_runs=2", "--warmup_runs=1", "--use_nnapi=false"},
			}
			d, err := NewWith(cfg, tr, devices.NewHostLockAt(filepath.Join(t.TempDir(), "host.lock")), Options{Writer: writer})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			m, err := d.Measure(context.Background(), net)
			if err != nil {
				t.Fatal(err)
			}
			if info := d.Info(); info.Format != "tflite" || info.Precision != precision || !strings.Contains(devices.Fingerprint(cfg, info), "precision="+precision) {
				t.Errorf("device says %s %s (fingerprint %q), want tflite %s", info.Format, info.Precision, devices.Fingerprint(cfg, info), precision)
			}
			if len(m.SamplesMs) == 0 || median(m.SamplesMs) <= 0 || !strings.Contains(m.Mode, "benchmark_model") {
				t.Errorf("samples %v ms, mode %q", m.SamplesMs, m.Mode)
			}
			t.Logf("%s tflite over the fake adb: %.0f ms a run in Arm NN's reference kernels on this host (a stand-in, not a phone); mode %q", precision, median(m.SamplesMs), m.Mode)
		})
	}
}
