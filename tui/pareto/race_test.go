//go:build race

package pareto_test

const raceEnabled = true
