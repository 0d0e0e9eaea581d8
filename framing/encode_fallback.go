package framing

import (
	"encoding"
	"encoding/json"
	"reflect"

	"github.com/bytedance/sonic"
)

// fallbackJSON marshals values the encoders have no fast path for
// (structs, json.Marshaler and encoding.TextMarshaler implementations).
var fallbackJSON = sonic.Config{
	ValidateString:   true,
	NoEncoderNewline: true,
	CompactMarshaler: false,
}.Froze()

// normalize converts a value of a type outside the value model into the
// value model, so that every framing writes it the same way:
//
//   - named basic types, pointers, interfaces, typed slices, arrays and
//     string-keyed maps are converted with reflection;
//   - structs and types implementing json.Marshaler or
//     encoding.TextMarshaler are marshalled to JSON with sonic (encoding/json
//     rules: field tags, omitempty, ...), then decoded into the value model.
//
// Elements of converted slices and maps may need normalizing in turn; the
// encoders count them as one nesting level deeper, so self-referencing
// values end with ErrTooDeep.
func normalize(framing string, v any) (any, error) {
	switch v.(type) {
	case json.Marshaler, encoding.TextMarshaler:
		return viaJSON(framing, v)
	}
	rv := reflect.ValueOf(v)
	for hops := 0; rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface; hops++ {
		if rv.IsNil() {
			return nil, nil
		}
		if hops == encodeMaxDepth {
			return nil, encodeError(framing, ErrTooDeep, "pointer chain longer than 512")
		}
		if rv.Elem().Kind() == reflect.Struct {
			return viaJSON(framing, rv.Interface())
		}
		rv = rv.Elem()
		if rv.CanInterface() {
			switch rv.Interface().(type) {
			case json.Marshaler, encoding.TextMarshaler:
				return viaJSON(framing, rv.Interface())
			}
		}
	}
	switch rv.Kind() {
	case reflect.Bool:
		return rv.Bool(), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int(), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return rv.Uint(), nil
	case reflect.Float32:
		return float32(rv.Float()), nil
	case reflect.Float64:
		return rv.Float(), nil
	case reflect.String:
		return rv.String(), nil
	case reflect.Slice:
		if rv.IsNil() {
			return []any{}, nil
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return rv.Bytes(), nil
		}
		fallthrough
	case reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, nil
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			break
		}
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().String()] = it.Value().Interface()
		}
		return out, nil
	case reflect.Struct:
		return viaJSON(framing, v)
	}
	return nil, encodeError(framing, ErrInvalidValue, "cannot encode a value of type "+rv.Type().String())
}

// viaJSON marshals v with sonic and decodes the result into the value
// model, validating it with the json splitter on the way.
func viaJSON(framing string, v any) (any, error) {
	b, err := fallbackJSON.Marshal(v)
	if err != nil {
		return nil, &Error{Framing: framing, Offset: -1, Opcode: -1, Err: ErrInvalidValue,
			Detail: "cannot marshal " + reflect.TypeOf(v).String() + ": " + err.Error()}
	}
	buf := make([]byte, 0, len(b)+7)
	buf = append(buf, "[null,"...)
	buf = append(buf, b...)
	buf = append(buf, ']')
	d := NewDecoder(JSON, Limits{MaxFrameSize: len(buf), MaxDepth: encodeMaxDepth + 1})
	m, n, err := d.Next(buf)
	if err == nil && n != len(buf) {
		err = newError("json", int64(n), ErrMalformed, "incomplete JSON")
	}
	if err != nil {
		sentinel := ErrInvalidValue
		if e, ok := err.(*Error); ok && e.Err == ErrTooDeep {
			sentinel = ErrTooDeep
		}
		return nil, &Error{Framing: framing, Offset: -1, Opcode: -1, Err: sentinel,
			Detail: "marshalled " + reflect.TypeOf(v).String() + " is not valid: " + err.Error()}
	}
	args, err := m.Args()
	if err != nil || len(args) != 1 {
		return nil, encodeError(framing, ErrInvalidValue, "marshalled "+reflect.TypeOf(v).String()+" did not decode")
	}
	return args[0], nil
}
