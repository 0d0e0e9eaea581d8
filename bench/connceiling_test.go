package bench

import (
	"runtime"
	"testing"
	"time"
)

// TestConnCeiling runs ceiling connections against the ceiling server:
// each one completes only when the client has every byte the server owes
// it, which it sends only after the client's bytes.
func TestConnCeiling(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ceiling server needs Linux")
	}
	s, err := ListenConnCeiling("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	defer s.Close()
	res, err := RunConnCeiling(s.Addr().String(), 500, 8, 20*time.Second)
	if err != nil {
		t.Fatalf("%v (%v)", err, res)
	}
	got := map[string]any{}
	for _, f := range res.Fields {
		got[f.Key] = f.Value
	}
	if got["mode"] != "connect-ceiling" || got["received"] != int64(500) || got["failed"] != int64(0) {
		t.Fatalf("result %v", res.Fields)
	}
	t.Log(res.Fields)

	// Close without Serve closes the sockets itself.
	s2, err := ListenConnCeiling("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s2.Close()
}

// TestConnFloor runs ceiling connections against the enrolment floor:
// the same exchange, the server's side on gnet's event loops; Close must
// leave nothing serving.
func TestConnFloor(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the ceiling client needs Linux")
	}
	s, err := ListenConnFloor("127.0.0.1:0", 2)
	if err != nil {
		t.Fatal(err)
	}
	addr := s.Addr().String()
	res, err := RunConnCeiling(addr, 500, 8, 20*time.Second)
	if err != nil {
		s.Close()
		t.Fatalf("%v (%v)", err, res)
	}
	got := map[string]any{}
	for _, f := range res.Fields {
		got[f.Key] = f.Value
	}
	if got["received"] != int64(500) || got["failed"] != int64(0) {
		t.Fatalf("result %v", res.Fields)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := RunConnCeiling(addr, 1, 1, 2*time.Second); err == nil {
		t.Fatal("a connection succeeded after Close")
	}
}
