//go:build !race

package pareto_test

const raceEnabled = false
