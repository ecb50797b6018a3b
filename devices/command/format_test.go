package command

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"blockprof/devices"
	"blockprof/devices/safetext"
	"blockprof/devices/transport"
	"blockprof/model"
	"blockprof/model/onnx/onnxpb"
)

// copyTool is a tool that copies the model it is given to DIR/got and
// prints a trtexec-style latency line.
func copyTool(dir string) []string {
	return []string{"sh", "-c", `cp "$1" "$2/got" && echo "[I] GPU Compute Time: min = 1 ms, max = 3 ms, mean = 2 ms, median = 2 ms"`, "sh", "{model}", dir}
}

// TestFormatAndPrecision: the model the tool gets is in the device's
// format and precision, whoever writes it.
func TestFormatAndPrecision(t *testing.T) {
	sp := testSpace(t)
	net := network(t, sp, sp.MinArch(160))
	fakeTFLite := func(_ context.Context, n *model.Network, spec devices.ModelSpec) ([]byte, error) {
		return []byte("TFL3 " + spec.Format + " " + spec.Precision + " " + n.Arch), nil
	}
	tests := []struct {
		name      string
		cfg       func(dir string) devices.Config
		writer    devices.ModelWriter
		precision string // in the ONNX metadata, or the fake writer's text
		errHas    string
	}{
		{name: "trtexec int8: onnx QDQ", precision: "int8",
			cfg: func(dir string) devices.Config {
				return devices.Config{Name: "trt", Parser: "trtexec", Precision: "int8", Argv: copyTool(dir)}
			}},
		{name: "fp16 onnx, the device's own writer", precision: "fp16",
			cfg: func(dir string) devices.Config {
				return devices.Config{Name: "trt", Parser: "trtexec", Precision: "fp16", Argv: copyTool(dir)}
			}},
		{name: "benchmark_model: tflite from the writer", precision: "tflite int8", writer: fakeTFLite,
			cfg: func(dir string) devices.Config {
				return devices.Config{Name: "phone", Parser: "regex", Regex: `median = (\S+) ms`, Format: "tflite", Precision: "int8", Argv: copyTool(dir)}
			}},
		{name: "tflite without a writer", errHas: "tflite writer is not available",
			cfg: func(dir string) devices.Config {
				return devices.Config{Name: "phone", Parser: "regex", Regex: `median = (\S+) ms`, Format: "tflite", Argv: copyTool(dir)}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := tc.cfg(dir)
			cfg.Kind, cfg.Timeout = "command", "1m"
			d, err := NewWith(cfg, transport.NewLocal(), nil, Options{Writer: tc.writer})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if info := d.Info(); info.Precision != orFP32(cfg.Precision) || info.Format == "" {
				t.Errorf("info %+v", info)
			}
			m, err := d.Measure(context.Background(), net)
			if tc.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errHas) {
					t.Fatalf("err %v, want %q", err, tc.errHas)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(m.Mode, d.Info().Format+" "+d.Info().Precision) {
				t.Errorf("mode %q does not name the format and precision", m.Mode)
			}
			got, err := os.ReadFile(filepath.Join(dir, "got"))
			if err != nil {
				t.Fatal(err)
			}
			if bytes.HasPrefix(got, []byte("TFL3")) {
				if string(got) != "TFL3 "+tc.precision+" "+net.Arch {
					t.Errorf("model %q", got)
				}
				return
			}
			var mp onnxpb.ModelProto
			if err := proto.Unmarshal(got, &mp); err != nil {
				t.Fatal(err)
			}
			meta := map[string]string{}
			for _, kv := range mp.GetMetadataProps() {
				meta[kv.GetKey()] = kv.GetValue()
			}
			if meta["precision"] != tc.precision || meta["arch"] != net.Arch {
				t.Errorf("model metadata %v, want precision %s", meta, tc.precision)
			}
		})
	}
}

func orFP32(p string) string {
	if p == "" {
		return "fp32"
	}
	return p
}

// TestADBDeviceState: over adb, the phone's screen, thermal status and
// CPU governors are read before timing and recorded, escaped, in the
// measurement's mode. The fake adb runs commands locally; a fake dumpsys
// and a fake sysfs stand in for the phone's.
func TestADBDeviceState(t *testing.T) {
	bin, sys := t.TempDir(), t.TempDir()
	dumpsys := `#!/bin/sh
case "$1" in
power) printf 'POWER MANAGER\n  mWakefulness=Asleep\n  mWakefulnessChanging=false\n' ;;
thermalservice) printf 'IsStatusOverride: false\nThermal Status: 2\n' ;;
esac
`
	if err := os.WriteFile(filepath.Join(bin, "dumpsys"), []byte(dumpsys), 0o755); err != nil {
		t.Fatal(err)
	}
	for i, g := range []string{"schedutil", "schedutil", "performance", "sched\x1b[2Jutil"} {
		p := filepath.Join(sys, "devices/system/cpu", "cpu"+string(rune('0'+i)), "cpufreq")
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "scaling_governor"), []byte(g+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv("BLOCKPROF_SYSFS", sys)
	tr, err := transport.NewADB(transport.ADBOptions{Serial: "emulator-5554", ADB: fakeADB(t), TempBase: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	sp := testSpace(t)
	d := newDevice(t, fakeConfig(t), tr)
	m, err := d.Measure(context.Background(), network(t, sp, sp.MinArch(160)))
	if err != nil {
		t.Fatal(err)
	}
	want := "device state: screen Asleep, thermal 2, governor performance×1 sched\\x1b[2Jutil×1 schedutil×2"
	if !strings.HasSuffix(m.Mode, want) || !safetext.Safe(m.Mode) {
		t.Errorf("mode %q, want it to end with %q", m.Mode, want)
	}

	// A phone without dumpsys or cpufreq: unknown readings, still timed.
	t.Setenv("PATH", os.Getenv("PATH")[len(bin)+1:])
	t.Setenv("BLOCKPROF_SYSFS", t.TempDir())
	m, err = d.Measure(context.Background(), network(t, sp, sp.MinArch(160)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(m.Mode, "device state: screen ?, thermal ?, governor ?") {
		t.Errorf("mode %q", m.Mode)
	}
}
