package devices

import (
	"strconv"
	"strings"
	"unicode"
)

// Fingerprint is a stable, human-readable summary of what makes a
// device's numbers what they are: its kind and every setting that changes
// the latency it reports, e.g.
//
//	kind=ort runtime=onnxruntime/1.22.0 hardware="AMD EPYC 7B13" threads=1 opt=all precision=fp32 batch=1
//
// The store keeps it with every measurement: a record counts as done for
// a device only while the device's fingerprint is the record's, so a
// device whose settings changed (another kind, runtime version, CPU,
// thread count…) measures again instead of inheriting old numbers.
//
// Fields come in a fixed order as key=value, empty ones left out; a value
// with spaces, quotes, '=' or brackets is quoted, a list is [a b c].
// Where the device reports a setting in info (runtime and version,
// hardware, threads, precision, batch), the reported, resolved value is
// used, else the configured one; the remaining fields are the
// configuration as written (a default spelled out counts as a change):
// the transport target (host, serial), the agent's target, mode and
// command, ort's optimisation level, a command device's argv (with its
// {model}-like placeholders as they are), parser, regex and unit, a
// replay device's file and key, a lut device's path, a sim device's
// preset and seed.
//
// Left out because they do not change the latency a device reports: the
// name, label, profile, timeout, the transport's user, port and identity,
// info.Host (for a local device the machine's host name, which changes
// with every container), info.Mode (a description that repeats the
// settings above), and the measurement protocol (warmup, repeat,
// max_repeat, target_spread, probe_every): it decides how many runs are
// timed and so how wide the spread is, not the latency each run takes.
//
// Info must be what the device reports when opened: an agent fills in its
// runtime and hardware after its first hello, so compute the fingerprint
// once per opened device, before Check or the first Measure.
//
// The format is part of every store: changing it makes every stored
// record stale, so change it only together with a store migration that
// recomputes measurements.fingerprint.
func Fingerprint(cfg Config, info Info) string {
	var b strings.Builder
	add := func(key, value string) {
		if value == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key)
		b.WriteByte('=')
		b.WriteString(fingerprintValue(value))
	}
	addInt := func(key string, n int) {
		if n != 0 {
			add(key, strconv.Itoa(n))
		}
	}
	addList := func(key string, xs []string) {
		if len(xs) == 0 {
			return
		}
		q := make([]string, len(xs))
		for i, x := range xs {
			q[i] = fingerprintValue(x)
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(key + "=[" + strings.Join(q, " ") + "]")
	}
	or := func(reported, configured string) string {
		if reported != "" {
			return reported
		}
		return configured
	}
	orInt := func(reported, configured int) int {
		if reported != 0 {
			return reported
		}
		return configured
	}

	add("kind", or(cfg.Kind, info.Kind))
	runtime := info.Runtime
	if runtime != "" && info.Version != "" {
		runtime += "/" + info.Version
	}
	add("runtime", runtime)
	add("hardware", info.Hardware)
	add("host", cfg.Host)
	add("serial", cfg.Serial)
	add("target", cfg.Target)
	addInt("threads", orInt(info.Threads, cfg.Threads))
	add("opt", cfg.Optimization)
	// A command device reports its precision (fp32 by default) but
	// only a configured one counts here, so that records made before it
	// had the setting stay current.
	if k := or(cfg.Kind, info.Kind); k != "command" || cfg.Precision != "" {
		add("precision", or(info.Precision, cfg.Precision))
	}
	add("format", cfg.Format)
	add("mode", cfg.Mode)
	addInt("batch", orInt(info.Batch, cfg.Batch))
	addList("command", cfg.Command)
	addList("argv", cfg.Argv)
	add("parser", cfg.Parser)
	add("regex", cfg.Regex)
	add("unit", cfg.Unit)
	add("file", cfg.File)
	add("key", cfg.Key)
	add("path", cfg.Path)
	add("preset", cfg.Sim.Preset)
	if cfg.Sim.Seed != 0 {
		add("seed", strconv.FormatUint(cfg.Sim.Seed, 10))
	}
	return b.String()
}

// fingerprintValue quotes v when it would not read back as one value.
func fingerprintValue(v string) string {
	if v == "" || strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || !unicode.IsPrint(r) || strings.ContainsRune(`"'=[]\`, r)
	}) >= 0 {
		return strconv.Quote(v)
	}
	return v
}

// ProvenanceOfKind is the provenance a device of kind produces: sim
// simulated, lut table, replay replayed, ort, agent and command measured.
// ok is false for an unknown kind.
func ProvenanceOfKind(kind string) (p Provenance, ok bool) {
	switch kind {
	case "sim":
		return Simulated, true
	case "lut":
		return Table, true
	case "replay":
		return Replayed, true
	case "ort", "agent", "command":
		return Measured, true
	}
	return "", false
}
