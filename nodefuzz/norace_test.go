//go:build !race

package nodefuzz

const raceDetector = false
