package main

import (
	"fmt"
	"io"
)

// runNode will run an AEMP node; the engine that does so is not built yet.
func runNode(args []string, _ io.Reader, _, stderr io.Writer) int {
	fmt.Fprintln(stderr, "aemp node: the node engine is not built yet (see the engine issue); nothing to run.")
	return 1
}
