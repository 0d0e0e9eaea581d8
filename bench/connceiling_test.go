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
