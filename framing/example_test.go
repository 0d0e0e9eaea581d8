package framing_test

import (
	"fmt"
	"log"

	"github.com/aemp-go/aemp/framing"
)

// A stream of frames arrives in pieces: Next returns n == 0 until a whole
// frame is there, and the caller keeps the unconsumed bytes.
func ExampleDecoder_Next() {
	codec, err := framing.ByName("json")
	if err != nil {
		log.Fatal(err)
	}
	var stream []byte
	stream, _ = codec.AppendMessage(stream, "node#port", []any{"first", 1})
	stream, _ = codec.AppendMessage(stream, "node#port", []any{"second", 2})

	dec := framing.NewDecoder(codec, framing.Limits{})
	var buf []byte
	for _, piece := range [][]byte{stream[:10], stream[10:30], stream[30:]} {
		buf = append(buf, piece...)
		for {
			m, n, err := dec.Next(buf)
			if err != nil {
				log.Fatal(err) // a peer sending this must be disconnected
			}
			if n == 0 {
				fmt.Printf("partial frame, %d bytes kept\n", len(buf))
				break
			}
			args, err := m.Args()
			if err != nil {
				log.Fatal(err)
			}
			fmt.Println("message:", args)
			buf = buf[n:]
		}
	}
	// Output:
	// partial frame, 10 bytes kept
	// message: [first 1]
	// partial frame, 7 bytes kept
	// message: [second 2]
	// partial frame, 0 bytes kept
}

// The same Go values, sent in each framing, arrive as different Go
// types: Perl does not type its scalars the way Go does, and each framing
// keeps different traces of them. The converters read every form the way
// Perl code would see it.
func Example_values() {
	args := []any{"gopher", 42, 2.5, true, false, []byte{0xfc}, nil}
	for _, name := range []string{"json", "storable", "cbor"} {
		codec, err := framing.ByName(name)
		if err != nil {
			log.Fatal(err)
		}
		frame, err := codec.AppendMessage(nil, "port", args)
		if err != nil {
			log.Fatal(err)
		}
		m, _, err := framing.NewDecoder(codec, framing.Limits{}).Next(frame)
		if err != nil {
			log.Fatal(err)
		}
		got, err := m.Args()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%-8s", name)
		for _, v := range got {
			fmt.Printf(" %T", v)
		}
		fmt.Println()

		text, _ := framing.Text(got[0])
		n, _ := framing.Int64(got[1])
		f, _ := framing.Float64(got[2])
		raw, _ := framing.Bytes(got[5])
		latin1, _ := framing.Text(got[5])
		fmt.Printf("%-8s %q %d %g %t %t %x %q %t\n", "", text, n, f,
			framing.Bool(got[3]), framing.Bool(got[4]), raw, latin1, framing.Bool(got[6]))
	}
	// Output:
	// json     string framing.Number framing.Number string string string <nil>
	//          "gopher" 42 2.5 true false fc "ü" false
	// storable string int64 string string string []uint8 <nil>
	//          "gopher" 42 2.5 true false fc "ü" false
	// cbor     string int64 framing.Number string string []uint8 <nil>
	//          "gopher" 42 2.5 true false fc "ü" false
}
