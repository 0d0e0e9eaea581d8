package framing

import "testing"

// FirstArg gives the first argument of every framing's frames when it is
// a plain string, and agrees with Args whenever it answers.
func TestFirstArg(t *testing.T) {
	msgs := [][]any{
		{"", "mon1", "port"}, {"", "g_db_family", map[string]any{"a": []any{1}}}, {"", "time"},
		{"", 5, "x"}, {"", []any{"x"}}, {""}, {"p", "é", 1}, {"p", []byte{0xfc}}, {"p", "a\"b"},
	}
	want := []string{"mon1", "g_db_family", "time", "", "", "", "é", "", "a\"b"}
	for _, c := range All() {
		for k, msg := range msgs {
			f, err := c.AppendMessage(nil, msg[0].(string), msg[1:])
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(c, Limits{})
			m, n, err := d.Next(f)
			if err != nil || n != len(f) {
				t.Fatal(c.Name(), err)
			}
			s, ok := m.FirstArg()
			// A Perl byte string is text in json (U+00FC), an escaped string
			// is left to Args: only the answers given must agree.
			lenient := k == 7 || k == 8
			if ok != (want[k] != "") && !lenient {
				t.Errorf("%s %v: FirstArg ok %v (%q)", c.Name(), msg, ok, s)
			}
			if ok {
				args, _ := m.Args()
				if a, _ := args[0].(string); a != string(s) {
					t.Errorf("%s %v: FirstArg %q, Args %q", c.Name(), msg, s, args[0])
				}
			}
		}
	}
}
