//go:build race

package tflite_test

const raceEnabled = true
