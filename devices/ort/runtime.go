//go:build cgo

package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Runtime is the process's ONNX Runtime: the loaded library and its
// environment. There is at most one per process because onnxruntime_go keeps
// the environment in package state; Load returns it.
type Runtime struct {
	path    string
	version string
	// heap returns glibc's free heap to the OS when it has grown
	// (malloc_glibc.go), asked by every session's Close: one per process,
	// as the heap is.
	heap heapTrim
	// sharedArena says the environment holds a CPU arena that sessions
	// with Options.SharedArena allocate from (registerSharedArena).
	sharedArena bool
}

// environment guards the one-time initialisation of onnxruntime_go. It is
// like sync.Once except that a failed load (say, a missing library) may be
// retried after the user fixes it; once loaded, the library stays loaded for
// the life of the process.
type environment struct {
	mu sync.Mutex
	rt *Runtime
}

var env environment

// Load loads the ONNX Runtime shared library at path (see FindLibrary) and
// initialises the runtime, once per process. Later calls return the same
// Runtime; naming a different library after one is loaded is an error,
// because a process can hold only one.
func Load(path string) (*Runtime, error) {
	return env.load(path)
}

func (e *environment) load(path string) (*Runtime, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.rt != nil {
		if !sameFile(e.rt.path, path) {
			return nil, fmt.Errorf("ONNX Runtime is already loaded from %s in this process; cannot also load %s (use one library for every ort device, or restart)", e.rt.path, path)
		}
		return e.rt, nil
	}
	if err := isFile(path); err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %q: %w", path, err)
	}
	onnxruntime.SetSharedLibraryPath(path)
	// The Linux builds of ONNX Runtime 1.30 (npm's onnxruntime-node, which
	// scripts/setup-ort.sh fetches) start Microsoft's 1DS telemetry when the
	// environment is created: a device ID and an event database under
	// ~/.cache/Microsoft/DeveloperTools, log files in $TMPDIR, HTTPS uploads
	// where a CA bundle is found, and a thread writing its database while
	// devices are timed. The library reads ORT_DISABLE_TELEMETRY then, so it
	// is set (in this process's environment, which is how the library takes
	// it) unless the user set it; DisableTelemetry below stops the events of
	// a library that ignores the variable.
	if _, set := os.LookupEnv("ORT_DISABLE_TELEMETRY"); !set {
		if err := os.Setenv("ORT_DISABLE_TELEMETRY", "1"); err != nil {
			return nil, fmt.Errorf("load ONNX Runtime: turn its telemetry off: %w", err)
		}
	}
	// Fatal only: ORT's warnings and errors would otherwise go to stderr
	// and garble the terminal UI; every error also comes back as a status.
	if err := onnxruntime.InitializeEnvironment(onnxruntime.WithLogLevelFatal()); err != nil {
		return nil, fmt.Errorf("load ONNX Runtime %q: %w (is it a %s build for this OS/CPU? run `bash scripts/setup-ort.sh` for a known-good one)", path, err, LibraryVersion)
	}
	if os.Getenv("ORT_DISABLE_TELEMETRY") == "1" {
		if err := onnxruntime.DisableTelemetry(); err != nil {
			return nil, fmt.Errorf("load ONNX Runtime %q: turn its telemetry off: %w", path, err)
		}
	}
	e.rt = &Runtime{path: path, version: onnxruntime.GetVersion()}
	// Without it, sessions keep an arena each, as ONNX Runtime's default.
	e.rt.sharedArena = registerSharedArena() == nil
	return e.rt, nil
}

// shares says whether a session with opts allocates from the shared arena.
func (r *Runtime) shares(opts Options) bool { return opts.SharedArena && r.sharedArena }

// registerSharedArena gives the environment one CPU arena, with ONNX
// Runtime's default arena settings, for the sessions that ask for it
// (session.use_env_allocators). The sessions of the archs a device times
// one after another then take their buffers from memory that the sessions
// before them faulted in, where a session's own arena maps and faults in
// its buffers during its first runs (the device's warm-up) and unmaps them
// when it closes (docs/benchmarks.md, issue 14). The timed runs are the
// same: once warmed up, a session takes every buffer from the arena either
// way (TestTimedRunsMapNothing).
func registerSharedArena() error {
	info, err := onnxruntime.GetMemoryInfo()
	if err != nil {
		return err
	}
	cfg, err := onnxruntime.NewArenaCfg(0, -1, -1, -1)
	if err != nil {
		return err
	}
	defer cfg.Destroy()
	return onnxruntime.CreateAndRegisterAllocator(info, cfg)
}

// sameFile reports whether a and b name the same library file.
func sameFile(a, b string) bool {
	if a == b {
		return true
	}
	ra, err1 := filepath.EvalSymlinks(a)
	rb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return filepath.Clean(a) == filepath.Clean(b)
	}
	ra, _ = filepath.Abs(ra)
	rb, _ = filepath.Abs(rb)
	return ra == rb
}

// Path is the loaded library's path.
func (r *Runtime) Path() string { return r.path }

// Version is the loaded library's version string (ort.GetVersion), e.g.
// "1.30.0".
func (r *Runtime) Version() string { return r.version }
