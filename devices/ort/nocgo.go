//go:build !cgo

package ort

import (
	"errors"
	"fmt"

	"blockprof/devices"
)

// ErrNoCgo is the error of every ort device in a binary built without cgo
// (CGO_ENABLED=0), such as the static helper that builds models on a
// command device's target: ONNX Runtime is loaded through cgo.
var ErrNoCgo = errors.New("built without ONNX Runtime (CGO_ENABLED=0): the ort device needs a cgo build (go build with CGO_ENABLED=1 and a C compiler)")

// Mode is the Measurement.Mode of the ort device.
const Mode = "ort-cpu"

// New fails: this binary has no ONNX Runtime.
func New(cfg devices.Config, _ *devices.HostLock) (devices.Device, error) {
	return nil, fmt.Errorf("device %s: %w", cfg.Name, ErrNoCgo)
}
