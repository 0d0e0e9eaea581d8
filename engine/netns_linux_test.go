package engine

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// netnsLab is a pair of network namespaces created by the test, joined by
// a veth pair with TEST-NET-1 addresses (192.0.2.1 in A, 192.0.2.2 in B).
// Nothing outside the two namespaces is touched.
type netnsLab struct {
	a, b       string // namespace names
	vethA, veB string
}

const netnsAddrA, netnsAddrB = "192.0.2.1", "192.0.2.2"

func ipCmd(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// newNetnsLab creates the namespaces, or skips the test saying why not.
func newNetnsLab(t *testing.T) *netnsLab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root: skipped")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2): skipped")
	}
	id := os.Getpid() % 100000
	l := &netnsLab{
		a: fmt.Sprintf("aemp-a-%d", id), b: fmt.Sprintf("aemp-b-%d", id),
		vethA: fmt.Sprintf("aempa%d", id), veB: fmt.Sprintf("aempb%d", id),
	}
	if err := ipCmd("netns", "add", l.a); err != nil {
		t.Skipf("ip netns does not work here (%v): skipped", err)
	}
	t.Cleanup(func() { ipCmd("netns", "del", l.a) })
	if err := ipCmd("netns", "add", l.b); err != nil {
		t.Skipf("ip netns does not work here (%v): skipped", err)
	}
	t.Cleanup(func() { ipCmd("netns", "del", l.b) })
	for _, args := range [][]string{
		{"link", "add", l.vethA, "netns", l.a, "type", "veth", "peer", "name", l.veB, "netns", l.b},
		{"-n", l.a, "addr", "add", netnsAddrA + "/24", "dev", l.vethA},
		{"-n", l.b, "addr", "add", netnsAddrB + "/24", "dev", l.veB},
		{"-n", l.a, "link", "set", "lo", "up"},
		{"-n", l.b, "link", "set", "lo", "up"},
		{"-n", l.a, "link", "set", l.vethA, "up"},
		{"-n", l.b, "link", "set", l.veB, "up"},
	} {
		if err := ipCmd(args...); err != nil {
			t.Skipf("cannot build the veth pair (%v): skipped", err)
		}
	}
	return l
}

// inNetns runs f on this goroutine's thread switched into namespace ns:
// sockets f creates (a node's listeners) belong to ns for their whole
// life, whichever thread uses them later. The thread is switched back
// afterwards (or discarded if that fails).
func inNetns(t *testing.T, ns string, f func()) {
	t.Helper()
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), syscall.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		t.Skipf("cannot open this thread's network namespace: %v", err)
	}
	defer self.Close()
	target, err := os.Open("/var/run/netns/" + ns)
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatalf("open namespace %s: %v", ns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		t.Skipf("setns: %v", err)
	}
	defer func() {
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread() // else the thread dies with the goroutine
		}
	}()
	f()
}

// TestHostileNetnsLinkCut: two nodes on either side of a veth pair, each
// in a network namespace of its own: node A in this process (listening on
// 192.0.2.1 with TCP keepalive of 1 s idle, 1 s interval, 2 probes), node
// B a listener-less aemp process (which probes the idle link with [])
// connected to A. The link is cut: A notices through keepalive within the
// configured time (node-down event, monitor with transport_error), queues
// what it is asked to send meanwhile, and when the link is healed B
// reconnects and the queued messages arrive.
func TestHostileNetnsLinkCut(t *testing.T) {
	lab := newNetnsLab(t)
	bin := buildAemp(t)
	const idle, interval, count = time.Second, time.Second, 2
	var a *testNode
	inNetns(t, lab.a, func() {
		a = startHostile(t, "nsA", Config{Binds: []string{netnsAddrA + ":0"},
			KeepAliveIdle: idle, KeepAliveInterval: interval, KeepAliveCount: count,
			MonitorTimeout: 30 * time.Second})
	})
	ch := startChild(t, bin, []string{"ip", "netns", "exec", lab.b}, "--nodeid", "nsB", "--bind", "none",
		"--seed", a.Addrs()[0], "--secret", hostileSecret, "--monitor-timeout", "1")
	a.waitEvent(t, "nsB", true, 10*time.Second)
	var replies atomic.Int64
	rid, err := a.Register("back", func(*Message) { replies.Add(1) })
	mustf(t, err, "register")
	waitReplies := func(n int64, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for replies.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d echo replies\nchild log:\n%s", replies.Load(), n, tail(ch.stderr.String(), 3000))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	mustf(t, a.Send("nsB#echo", rid, "before"), "send")
	waitReplies(1, 5*time.Second)
	reasons := make(chan []any, 2)
	a.Monitor("nsB", func(r []any) { reasons <- r })

	// Cut the link on B's side.
	mustf(t, ipCmd("-n", lab.b, "link", "set", lab.veB, "down"), "cut")
	cut := time.Now()
	ev := a.waitEvent(t, "nsB", false, 20*time.Second)
	detect := time.Since(cut)
	limit := idle + interval*count + 2*time.Second // + B's last [] and slack
	t.Logf("link cut: node down after %v (keepalive %v + %v x %d), reason %q", detect.Round(time.Millisecond), idle, interval, count, ev.Reason)
	if detect > limit {
		t.Errorf("dead link noticed after %v, configured for about %v", detect, idle+interval*count)
	}
	// Keepalive gives up with ETIMEDOUT; with bytes unacknowledged at the
	// cut, TCP_USER_TIMEOUT ends it with the ICMP error it last saw.
	if ev.Reason != "Connection timed out" && ev.Reason != "No route to host" {
		t.Errorf("reason %q", ev.Reason)
	}
	select {
	case r := <-reasons:
		if len(r) != 3 || r[0] != "transport_error" {
			t.Errorf("monitor reason %#v", r)
		}
	case <-time.After(2 * time.Second):
		t.Error("the monitor of nsB did not fire")
	}
	for i := 0; i < 5; i++ {
		mustf(t, a.Send("nsB#echo", rid, "queued", int64(i)), "send while the link is down")
	}

	// Heal: B's next retransmission meets A's reset, B reconnects.
	mustf(t, ipCmd("-n", lab.b, "link", "set", lab.veB, "up"), "heal")
	healed := time.Now()
	a.waitEvent(t, "nsB", true, 40*time.Second)
	t.Logf("link healed: reconnected after %v", time.Since(healed).Round(time.Millisecond))
	waitReplies(6, 5*time.Second)
	mustf(t, a.Send("nsB#echo", rid, "after"), "send")
	waitReplies(7, 5*time.Second)
	ch.alive(t)
}
