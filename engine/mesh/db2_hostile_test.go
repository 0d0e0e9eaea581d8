package mesh

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aemp-go/aemp/framing"
)

// db2Global returns a global node "g" with slave "s" (which registered
// s#w in workers and watches it) and global peer "p".
func db2Global(t *testing.T, lim Limits) *DB2 {
	t.Helper()
	now := time.Unix(1, 0)
	d := NewDB2(DB2Config{Self: "g", Addrs: []string{"10.0.0.1:1"}, Global: true, Limits: lim})
	for _, a := range []Actions{
		d.NodeUp("s", false, now),
		d.NodeUp("p", false, now),
		d.Request("s", "g_slave", []any{map[string]any{"'l": map[string]any{"s": []any{"10.0.0.2:1"}}}}, now),
		d.Request("s", "g_upd", []any{"workers", map[string]any{"s#w": nil}}, now),
		d.Request("s", "g_mon1", []any{"workers"}, now),
		d.Request("p", "g_global", nil, now),
		d.Request("p", "g_set", []any{map[string]any{"'l": map[string]any{"p": []any{"10.0.0.3:1"}}}}, now),
	} {
		if len(a.Warn) > 0 {
			t.Fatalf("setup: %v", a.Warn)
		}
	}
	return d
}

// db2State renders what a global node holds, for before/after checks.
func db2State(d *DB2) string {
	var b strings.Builder
	for _, f := range db2Sorted(d.fams) {
		fmt.Fprintf(&b, "%s=%v ", f, d.fams[f].merged)
	}
	fmt.Fprintf(&b, "slaves=%v mon=%v globals=%v", d.slaves, d.gmon, d.globals)
	return b.String()
}

func TestDB2Malformed(t *testing.T) {
	now := time.Unix(2, 0)
	deep := any("x")
	for range 40 {
		deep = []any{deep}
	}
	for _, c := range []struct {
		src, name string
		args      []any
	}{
		{"s", "g_upd", []any{[]any{}, map[string]any{}}},
		{"s", "g_upd", []any{"f", "not a map"}},
		{"s", "g_upd", []any{"f", nil, "not a list"}},
		{"s", "g_upd", []any{"f", nil, []any{"k", map[string]any{}}}},
		{"s", "g_upd", []any{strings.Repeat("f", 2000), map[string]any{"k": 1}}},
		{"s", "g_upd", []any{"f", map[string]any{"k": framing.Number("NaN")}}},
		{"s", "g_upd", []any{"f", map[string]any{"k": deep}}},
		{"s", "g_upd", []any{"f", map[string]any{strings.Repeat("k", 2000): 1}}},
		{"s", "g_upd", []any{"'l", map[string]any{"p": []any{"10.9.9.9:1"}}}}, // another node's address
		{"s", "g_upd", []any{"'l", map[string]any{"s": "not a list"}}},
		{"s", "g_upd", []any{"'g", map[string]any{"evil": nil}}}, // only global nodes list global nodes
		{"s", "g_set", []any{"not a map"}},
		{"s", "g_set", []any{map[string]any{"f": map[string]any{}}}}, // not from a global node
		{"p", "g_set", []any{map[string]any{"f": "not a map", "'l": map[string]any{"p": []any{"10.0.0.3:1"}}}}},
		{"s", "g_slave", []any{[]any{}}},
		{"s", "g_slave", []any{int64(5)}},
		{"s", "g_find", nil},
		{"s", "g_find", []any{[]any{"n"}}},
		{"s", "g_db_keys", []any{nil, "id"}},
		{"s", "g_db_family", []any{"f", map[string]any{}}},
		{"s", "g_mon1", []any{true}},
		{"s", "g_mon0", []any{map[string]any{}}},
		{"s", "g_reply", []any{[]any{}, nil}},
		{"s", "g_found", []any{nil, nil}},
		{"s", "g_found", []any{"n", "not a list"}},
		{"s", "g_chg1", []any{nil, nil}},
		{"s", "g_chg1", []any{"f", "not a map"}},
		{"s", "g_chg2", []any{"f", nil, int64(5)}},
		{"s", "g_clr", []any{"s"}},
		{"s", "g_disconnect", []any{"p"}},
		{"s", "g_broadcast", []any{"g_upd", "f", nil, nil}},
		{"", "g_upd", []any{"f", map[string]any{"k": 1}}},
		{"a#b", "g_upd", []any{"f", map[string]any{"k": 1}}},
		{strings.Repeat("n", 2000), "g_mon1", []any{"f"}},
	} {
		d := db2Global(t, Limits{})
		before := db2State(d)
		a := d.Request(c.src, c.name, c.args, now)
		if len(a.Warn) != 1 || len(a.Send) != 0 || len(a.Dial) != 0 || len(a.Changes) != 0 {
			t.Errorf("%s %v: %+v", c.name, c.args, a)
		}
		if after := db2State(d); after != before {
			t.Errorf("%s %v changed the state:\n %s\n %s", c.name, c.args, before, after)
		}
		db2Check(t, d)
	}
	// an ordinary node does not serve what only global nodes serve
	d := NewDB2(DB2Config{Self: "o"})
	for _, name := range []string{"g_upd", "g_set", "g_find", "g_db_keys", "g_mon1"} {
		if a := d.Request("s", name, []any{"f"}, now); len(a.Warn) != 1 || len(a.Send) != 0 {
			t.Errorf("ordinary %s: %+v", name, a)
		}
	}
	if d.IsGlobal() {
		t.Error("turned global")
	}
	// a bad entry among good ones: the good ones are taken, one warning
	g := db2Global(t, Limits{})
	a := g.Request("s", "g_upd", []any{"f", map[string]any{"ok": int64(1), "bad": framing.Number("Inf"), "ok2": "x"}}, now)
	if len(a.Warn) != 1 || len(g.Lookup("f")) != 2 {
		t.Errorf("mixed update: %+v, f = %v", a, g.Lookup("f"))
	}
	// chg1/chg2 from a node that is not our master are ignored silently
	o := NewDB2(DB2Config{Self: "o"})
	o.NodeUp("m", true, now)
	o.Watch("f")
	if a := o.Request("x", "g_chg1", []any{"f", map[string]any{"k": 1}}, now); !a.Empty() || o.Lookup("f") == nil || len(o.Lookup("f")) != 0 {
		t.Errorf("chg1 from a stranger: %+v %v", a, o.Lookup("f"))
	}
	// unsolicited g_found: no dial
	if a := o.Request("m", "g_found", []any{"q", []any{"1.2.3.4:5"}}, now); !a.Empty() {
		t.Errorf("unsolicited g_found: %+v", a)
	}
}

// db2Flood returns a map with n entries k0..k(n-1) (value v).
func db2Flood(n int, prefix string, v func(i int) any) map[string]any {
	m := make(map[string]any, n)
	for i := range n {
		m[fmt.Sprint(prefix, i)] = v(i)
	}
	return m
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

func TestDB2Flood(t *testing.T) {
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	lim := Limits{MaxEntriesPerNode: 1000, MaxEntries: 2500, MaxNodes: 100}
	now := time.Unix(3, 0)
	nilv := func(int) any { return nil }
	big := db2Flood(n, "k", nilv)

	t.Run("g_upd", func(t *testing.T) {
		d := db2Global(t, lim)
		before := heapInUse()
		a := d.Request("s", "g_upd", []any{"f", big}, now)
		grew := int64(heapInUse()) - int64(before)
		if len(a.Warn) != 1 || len(d.Lookup("f")) != lim.MaxEntriesPerNode-2 { // s already has 2 entries
			t.Errorf("warnings %v, f has %d", a.Warn, len(d.Lookup("f")))
		}
		if grew > 4<<20 {
			t.Errorf("heap grew %d bytes", grew)
		}
		db2Check(t, d)
		// the rest of the network saw only what was taken
		for _, s := range a.Send {
			if m, ok := s.Args[2].(map[string]any); ok && len(m) > lim.MaxEntriesPerNode {
				t.Errorf("relayed %d entries", len(m))
			}
		}
		// deleting a million keys it does not hold changes nothing
		keys := make([]any, 0, n)
		for k := range big {
			keys = append(keys, k+"x")
		}
		if a := d.Request("s", "g_upd", []any{"f", nil, keys}, now); len(a.Send) != 0 || len(a.Warn) != 0 {
			t.Errorf("phantom deletes: %d sends, %v", len(a.Send), a.Warn)
		}
		runtime.KeepAlive(big)
	})
	t.Run("g_slave", func(t *testing.T) {
		d := db2Global(t, lim)
		// a million entries: a thousand families of a thousand keys
		db := make(map[string]any, 1000)
		fam := db2Flood(n/1000, "k", nilv)
		for i := range 1000 {
			db[fmt.Sprint("f", i)] = fam
		}
		before := heapInUse()
		total := 0
		for i := range 3 { // three slaves flood: the total limit holds
			src := fmt.Sprint("flood", i)
			d.NodeUp(src, false, now)
			a := d.Request(src, "g_slave", []any{db}, now)
			if len(a.Warn) != 1 {
				t.Errorf("%s: warnings %v", src, a.Warn)
			}
			total += len(a.Warn)
		}
		grew := int64(heapInUse()) - int64(before)
		if d.entries > lim.MaxEntries || grew > 8<<20 {
			t.Errorf("%d entries, heap grew %d bytes", d.entries, grew)
		}
		db2Check(t, d)
		runtime.KeepAlive(db)
	})
	t.Run("g_set", func(t *testing.T) {
		// a global peer lists a million global nodes with addresses
		d := db2Global(t, Limits{})
		gs := db2Flood(n, "evil", nilv)
		addr := []any{"10.9.9.9:1"}
		ls := db2Flood(n, "evil", func(int) any { return addr })
		before := heapInUse()
		a := d.Request("p", "g_set", []any{map[string]any{"'g": gs, "'l": ls, "x": big}}, now)
		grew := int64(heapInUse()) - int64(before)
		if len(a.Warn) == 0 || len(a.Dial) > db2MaxKeepalive {
			t.Errorf("%d warnings, %d dials", len(a.Warn), len(a.Dial))
		}
		if d.entries > 100_000+4 || grew > 64<<20 {
			t.Errorf("%d entries, heap grew %d bytes", d.entries, grew)
		}
		dials := len(a.Dial)
		for range 10 {
			a := d.Tick(now.Add(time.Minute))
			now = now.Add(time.Minute)
			dials += len(a.Dial)
			if len(a.Dial) > db2MaxKeepalive {
				t.Errorf("%d dials in one round", len(a.Dial))
			}
		}
		db2Check(t, d)
		t.Logf("entries %d, heap growth %d, dials over 11 rounds %d", d.entries, grew, dials)
		runtime.KeepAlive(gs)
		runtime.KeepAlive(ls)
	})
	t.Run("'g", func(t *testing.T) {
		// a global peer lists a thousand global nodes: at most
		// db2MaxKeepalive are kept connected, dialled once per round
		d := db2Global(t, Limits{})
		gs := db2Flood(1000, "evil", nilv)
		ls := db2Flood(1000, "evil", func(i int) any { return []any{fmt.Sprintf("10.1.%d.%d:1", i>>8, i&255)} })
		ls["p"] = []any{"10.0.0.3:1"}
		a := d.Request("p", "g_set", []any{map[string]any{"'g": gs, "'l": ls}}, now)
		// p is up, the others are not: dialled
		if len(a.Warn) != 1 || len(a.Dial) != db2MaxKeepalive-1 || len(d.keep) != db2MaxKeepalive {
			t.Errorf("%d warnings, %d dials, %d kept", len(a.Warn), len(a.Dial), len(d.keep))
		}
		for i := range 20 {
			now = now.Add(time.Duration(i) * time.Second)
			if a := d.Tick(now); len(a.Dial) != 0 && len(a.Dial) != db2MaxKeepalive-1 {
				t.Errorf("round %d: %d dials", i, len(a.Dial))
			}
		}
		// retries back off: no more than one round per 30 s in the end
		rounds := 0
		for range 60 {
			now = now.Add(time.Second)
			if a := d.Tick(now); len(a.Dial) > 0 {
				rounds++
			}
		}
		if rounds > 2 {
			t.Errorf("%d keepalive rounds in a minute", rounds)
		}
		db2Check(t, d)
	})
	t.Run("g_chg", func(t *testing.T) {
		// a master floods a watched family
		o := NewDB2(DB2Config{Self: "o", Limits: lim})
		o.NodeUp("m", true, now)
		o.Watch("f")
		before := heapInUse()
		a := o.Request("m", "g_chg1", []any{"f", big}, now)
		a2 := o.Request("m", "g_chg2", []any{"f", big, nil}, now)
		grew := int64(heapInUse()) - int64(before)
		if len(o.Lookup("f")) != lim.MaxEntries || len(a.Warn) != 1 || len(a2.Warn) != 1 || grew > 4<<20 {
			t.Errorf("f has %d, warnings %v %v, heap grew %d", len(o.Lookup("f")), a.Warn, a2.Warn, grew)
		}
		db2Check(t, o)
		runtime.KeepAlive(big)
	})
}
