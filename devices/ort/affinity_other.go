//go:build !linux

package ort

// usableCores reports none without Linux affinity: the device stays serial.
func usableCores() ([]int, error) { return nil, nil }

// pin does nothing without Linux affinity.
func pin([]int) (func(), error) { return func() {}, nil }
