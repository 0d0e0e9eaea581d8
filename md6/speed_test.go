//go:build linux

package md6

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestSpeedTable prints the "MD6 speed" table of README.md when
// AEMP_MD6_SPEED is set (AEMP_MD6_SPEED=1 go test ./md6 -run SpeedTable -v):
// MD6-256 of each size with each kernel this CPU runs, one digest reused
// (Reset, Write, Sum: no allocation, so no garbage collector in the
// figures), timed in the thread's CPU time so that other processes on a
// shared machine disturb it less than wall time; the median of 5 runs of
// at least 50 ms. The parallel rows are wall time with WithParallel(0).
// AEMP_MD6_CLOCK_GHZ (default 3.9) converts to cycles per byte.
func TestSpeedTable(t *testing.T) {
	if os.Getenv("AEMP_MD6_SPEED") == "" {
		t.Skip("set AEMP_MD6_SPEED=1 to measure")
	}
	ghz := 3.9
	if s := os.Getenv("AEMP_MD6_CLOCK_GHZ"); s != "" {
		fmt.Sscan(s, &ghz)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var ks []*Kernel
	for _, k := range Kernels() {
		if k.Supported() {
			ks = append(ks, k)
		}
	}
	sizes := []int{64, 512, 4 << 10, 64 << 10, 1 << 20, 16 << 20}
	msg := make([]byte, sizes[len(sizes)-1])
	for i := range msg {
		msg[i] = byte(i)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "| size |")
	for _, k := range ks {
		fmt.Fprintf(&b, " %s MB/s (c/B) |", k.Name)
	}
	fmt.Fprintf(&b, "\n|---|%s\n", strings.Repeat("---|", len(ks)))
	speed := map[string]map[int]float64{}
	for _, n := range sizes {
		fmt.Fprintf(&b, "| %s |", sizeName(n))
		for _, k := range ks {
			d, _ := New(256, WithKernel(k))
			mbs := measure(n, cpuTime, func() {
				d.Reset()
				d.Write(msg[:n])
				d.Sum(nil)
			})
			if speed[k.Name] == nil {
				speed[k.Name] = map[int]float64{}
			}
			speed[k.Name][n] = mbs
			fmt.Fprintf(&b, " %.0f (%.1f) |", mbs, ghz*1e3/mbs)
		}
		b.WriteString("\n")
	}
	for _, n := range []int{1 << 20, 16 << 20} {
		fmt.Fprintf(&b, "| %s, WithParallel(%d) |", sizeName(n), runtime.GOMAXPROCS(0))
		for _, k := range ks {
			d, _ := New(256, WithKernel(k), WithParallel(0))
			mbs := measure(n, time.Now, func() {
				d.Reset()
				d.Write(msg[:n])
				d.Sum(nil)
			})
			fmt.Fprintf(&b, " %.0f (x%.2f) |", mbs, mbs/speed[k.Name][n])
		}
		b.WriteString("\n")
	}
	t.Logf("clock %.2f GHz assumed\n%s", ghz, b.String())
	for _, k := range ks {
		if k.Name != "generic" {
			t.Logf("%s / generic at 1 MiB: %.2f, at 512 B: %.2f", k.Name,
				speed[k.Name][1<<20]/speed["generic"][1<<20], speed[k.Name][512]/speed["generic"][512])
		}
	}
	if speed["avx512"] != nil && speed["avx2"] != nil {
		t.Logf("avx512 / avx2 at 1 MiB: %.2f", speed["avx512"][1<<20]/speed["avx2"][1<<20])
	}
}

// cpuTime returns the CPU time of the calling thread.
func cpuTime() time.Time {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		panic(err)
	}
	return time.Unix(ts.Unix())
}

// measure returns the median MB/s of 5 runs of f (n bytes each), each run
// repeating f for at least 50 ms of clock.
func measure(n int, clock func() time.Time, f func()) float64 {
	f() // warm up, allocate
	iters := 1
	for {
		start := clock()
		for range iters {
			f()
		}
		if clock().Sub(start) > 10*time.Millisecond {
			break
		}
		iters *= 2
	}
	iters *= 5
	var runs []float64
	for range 5 {
		start := clock()
		for range iters {
			f()
		}
		runs = append(runs, float64(n)*float64(iters)/clock().Sub(start).Seconds()/1e6)
	}
	slices.Sort(runs)
	return runs[len(runs)/2]
}
