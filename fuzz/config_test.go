package fuzz

import (
	"bytes"
	"testing"

	"github.com/aemp-go/aemp/config"
)

// FuzzConfigDecode feeds arbitrary text to the configuration file reader:
// it must not panic or hang, and whatever it accepts must be written back
// in a form it reads back; after one more round (JSON::XS, too, writes the
// float -0.0 as -0, which reads back as the integer 0) the text is stable.
func FuzzConfigDecode(f *testing.F) {
	for _, s := range []string{
		"{\"version\" : 1, # comment\n \"profile\" : {\"a\" : {\"parent\" : \"b\",},},}",
		`{"n":[1e5,2.50,-0.0,18446744073709551616,1e400],"s":"\ud83d\ude00\u0001\t"}`,
		"[\"a\tb\", true, false, null, {}]",
		`{"a":1 "b":2}`, `[01]`, "\"#\"#", "[[[[[[[[[[[[",
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, text []byte, relaxed bool) {
		v, err := config.Decode(text, relaxed)
		if err != nil {
			return
		}
		out := config.Encode(v)
		v2, err := config.Decode(out, false)
		if err != nil {
			t.Fatalf("cannot read back what Encode wrote: %v\n%s", err, out)
		}
		out2 := config.Encode(v2)
		v3, err := config.Decode(out2, false)
		if err != nil {
			t.Fatalf("cannot read back what Encode wrote: %v\n%s", err, out2)
		}
		if out3 := config.Encode(v3); !bytes.Equal(out2, out3) {
			t.Fatalf("not stable:\n%s\n%s", out2, out3)
		}
	})
}
