// Package ort runs ONNX models on this machine's CPU through ONNX Runtime
// (github.com/yalue/onnxruntime_go, which loads the shared library at run
// time). It finds the library, initialises the runtime once per process,
// creates sessions whose input and output tensors are allocated once, and
// offers the "ort" device, which times networks exported by model/onnx with
// the shared measurement protocol of package devices.
package ort

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// LibraryVersion is the ONNX Runtime release that scripts/setup-ort.sh
// installs (from the npm package onnxruntime-node).
const LibraryVersion = "1.30.0"

// LibraryEnv is the environment variable that names the library.
const LibraryEnv = "ONNXRUNTIME_LIB"

// libraryName is the library's file name in the cache on this OS.
func libraryName() string {
	switch runtime.GOOS {
	case "darwin":
		return "libonnxruntime.dylib"
	case "windows":
		return "onnxruntime.dll"
	}
	return "libonnxruntime.so"
}

// CachePath is where scripts/setup-ort.sh puts the library:
// <user cache dir>/blockprof/onnxruntime/<LibraryVersion>/libonnxruntime.so
// (user cache dir as os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux,
// ~/Library/Caches on macOS).
func CachePath() (string, error) {
	return cachePath(os.UserCacheDir)
}

func cachePath(cacheDir func() (string, error)) (string, error) {
	dir, err := cacheDir()
	if err != nil {
		return "", fmt.Errorf("locate the user cache dir for the ONNX Runtime library: %w (set %s instead)", err, LibraryEnv)
	}
	return filepath.Join(dir, "blockprof", "onnxruntime", LibraryVersion, libraryName()), nil
}

// ErrNoLibrary is wrapped by FindLibrary's error when no library was found.
var ErrNoLibrary = errors.New("ONNX Runtime library not found")

// FindLibrary returns the ONNX Runtime shared library to load, looking in
// order at explicit (a device's `library` setting), $ONNXRUNTIME_LIB and the
// copy that scripts/setup-ort.sh placed in the user cache dir. A path that is
// named (explicit or the variable) but missing is an error, not a reason to
// look further.
func FindLibrary(explicit string) (string, error) {
	return findLibrary(explicit, os.Getenv, os.UserCacheDir)
}

func findLibrary(explicit string, getenv func(string) string, cacheDir func() (string, error)) (string, error) {
	if explicit != "" {
		if err := isFile(explicit); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %q (the device's `library` setting): %w; fix the path, or remove the setting to use $%s or the copy from `bash scripts/setup-ort.sh`", explicit, err, LibraryEnv)
		}
		return explicit, nil
	}
	if p := getenv(LibraryEnv); p != "" {
		if err := isFile(p); err != nil {
			return "", fmt.Errorf("ONNX Runtime library %q (from $%s): %w; fix the variable, or unset it and run `bash scripts/setup-ort.sh`", p, LibraryEnv, err)
		}
		return p, nil
	}
	cached, err := cachePath(cacheDir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoLibrary, err)
	}
	if isFile(cached) == nil {
		return cached, nil
	}
	return "", fmt.Errorf("%w (looked for the device's `library` setting, $%s and %s): run `bash scripts/setup-ort.sh` to fetch ONNX Runtime %s into the cache, or set %s=/path/to/%s",
		ErrNoLibrary, LibraryEnv, cached, LibraryVersion, LibraryEnv, libraryName())
}

// isFile reports why path is not a usable regular file (nil if it is).
func isFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file")
	case err != nil:
		return err
	case st.IsDir():
		return errors.New("is a directory, want the shared library file")
	}
	return nil
}
