// Package framing implements the AEMP data framings, "json" and
// "storable" as AnyEvent::MP 1.30 writes and reads them and "cbor" as
// AnyEvent::MP 2.x does (docs/framing.md sections 1, 2 and 3): a
// streaming splitter per framing that finds and fully validates each
// message frame without copying it, zero-copy access to a message's
// destination port name, lazy decoding of its arguments, and append-style
// encoders. It has no sockets, no goroutines and imports nothing else of
// aemp-go.
//
// The package is the one owner of what a framing is: All, ByIndex and
// ByName give the Codecs (name, index, keepalive frame, encoder;
// NewDecoder makes their decoders), and DefaultOrder is aemp-go's default
// preference order, which the engine and the handshake use.
//
// # Use
//
//	codec, err := framing.ByName("cbor")        // or "json", "storable"
//	dec := framing.NewDecoder(codec, framing.Limits{})
//	m, n, err := dec.Next(buf)                  // see Decoder.Next
//	port := m.Port()                            // zero-copy
//	args, err := m.Args()                       // decoded on demand
//	out, err = codec.AppendMessage(out, "port", []any{"tag", 1})
//
// # Value model
//
// Args returns, and AppendMessage accepts, these Go values
// (docs/framing.md section 4; cbor details at Message.Args and
// AppendCBOR). Decoded values never alias the frame.
//
//	nil             JSON null; storable undef (SX_UNDEF, SX_SV_UNDEF, SX_SVUNDEF_ELEM);
//	                CBOR null and undefined
//	string          text, always valid UTF-8: JSON strings; storable SX_UTF8STR and
//	                SX_LUTF8STR; CBOR text strings; storable and CBOR byte strings
//	                whose bytes are all ASCII
//	[]byte          storable and CBOR byte strings with a byte >= 0x80: a Perl byte
//	                string, binary data or Latin-1 text (see Text and Bytes)
//	Number          JSON numbers, as their literal (any size, 1e400 included); CBOR
//	                floats and integers beyond 64 bits
//	int64           storable integers (SX_BYTE, SX_NETINT), CBOR integers; Perl sends
//	                larger integers and all doubles in storable as decimal strings
//	bool            JSON and CBOR true/false; in storable only the relay of JSON
//	                booleans (JSON::PP::Boolean / JSON::XS::Boolean objects, see below)
//	[]any           arrays (never nil when decoded; [] gives []any{})
//	map[string]any  JSON objects, storable hashes, CBOR maps; keys are UTF-8 text
//	                (byte-string keys are Latin-1 and converted); duplicate keys:
//	                last wins
//
// Perl does not distinguish these types the way Go does: the same Perl
// string "5" may arrive as Number "5", int64 5 or string "5" depending on
// how it was last used and on the framing, and "ü" as string "ü" (JSON,
// UTF-8-flagged storable) or []byte{0xfc} (Latin-1 storable). The helpers
// Text, Bytes, Int64, Float64 and Bool apply Perl's conversions.
//
// Decoding details: invalid UTF-8 that JSON::XS accepts (encoded surrogates
// ED A0 80, 4-byte sequences above U+10FFFF, up to F7 BF BF BF) is let
// through by the splitter, so the connection is not failed, and becomes
// U+FFFD in decoded strings, one for each character as Perl counts them;
// so do invalid sequences in storable SX_UTF8STR and CBOR text strings,
// which Storable and CBOR::XS take as they are.
// Storable's Perl true/false (SX_SV_YES/NO, SX_BOOLEAN_TRUE/FALSE) decode to
// "1" and "", what Perl code sees. A relayed JSON boolean, the exact
// patterns SX_OVERLOAD + SX_BLESS "JSON::PP::Boolean" (or "JSON::XS::Boolean",
// or SX_IX_BLESS of one of them) + SX_BYTE 1 or 0, decodes to bool; every
// other blessed object is ErrUnsupported. Shared references (SX_OBJECT)
// decode to the same Go slice or map, like Perl; cycles are rejected.
//
// Encoding: besides the types above AppendMessage accepts all Go integer
// and float types, json.Number, []string and map[string]string without
// reflection; named types, pointers, typed slices, arrays and string-keyed
// maps through reflection; structs, json.Marshaler and
// encoding.TextMarshaler values by marshalling them to JSON (sonic,
// encoding/json rules) and writing the result. Rules:
//
//   - strings must be valid UTF-8 (ErrInvalidValue otherwise; use []byte
//     for binary data). JSON output is compact and escaped like JSON::XS
//     (\" \\ \n \t \b \f \r, other controls as \u00xx, everything else raw
//     UTF-8); lone surrogates cannot occur.
//   - []byte is a Perl byte string: in storable SX_SCALAR and in CBOR a byte
//     string with the bytes as they are, in JSON each byte as the character
//     U+0000..U+00FF, as JSON::XS writes a byte string.
//   - bool is written as Perl's own true/false, the strings "1" and ""
//     (JSON true/false become objects in Perl, docs/framing.md section 1).
//   - integers: JSON decimal; storable SX_BYTE, SX_NETINT or, beyond 32
//     bits, a decimal string, like nfreeze; CBOR the shortest head.
//   - floats: NaN and ±Inf are ErrInvalidValue; integral values below 2^53
//     are written as integers, others in the shortest form that round-trips
//     (a string in storable, as Perl writes doubles; float32 or float64 in
//     CBOR).
//   - Number must be JSON number syntax; JSON writes the literal, storable an
//     integer opcode when it is an integer (or integral double) that fits,
//     else the literal as a string.
//   - map keys are sorted, so output is deterministic; in storable a key with
//     non-ASCII characters makes the hash an SX_FLAG_HASH with UTF-8 keys.
//   - nesting deeper than 512 (the message array counts) is ErrTooDeep.
//
// # Errors
//
// Decoding errors are *Error values naming the framing and wrapping one of
// the same sentinels for every framing: ErrMalformed, ErrUnsupported,
// ErrNotArray, ErrTooDeep or ErrFrameTooLarge (the limits:
// docs/framing.md section 5); any of them means the connection must be
// failed. Nothing in this package panics on any input. Where we accept or
// reject differently from Perl's own codecs on purpose, docs/framing.md
// section 6 lists it.
package framing
