//go:build race

package predict

// raceOn: the race detector slows the linear algebra ~10x; the largest
// fits skip under it (they run in the plain test run).
const raceOn = true
