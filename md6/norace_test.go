//go:build !race

package md6

const raceEnabled = false
