//go:build race

package nodefuzz

// raceDetector: the race detector slows the generator tests tenfold;
// they check pure logic, so they run fewer cases under it.
const raceDetector = true
