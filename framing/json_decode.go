package framing

import (
	"unicode/utf8"
)

// jsonMessage fills *m for a complete, validated JSON text t (t[0] ==
// '[') and extracts the port name.
func (d *Decoder) jsonMessage(t []byte, m *Message) {
	*m = Message{raw: t, kind: kindJSON, flags: flagRoutable}
	i := skipSpace(t, 1)
	if i >= len(t) {
		return // unreachable for validated input
	}
	switch c := t[i]; c {
	case ']':
		m.flags |= flagNoElems
		m.port = t[i:i]
		m.argOff = i
	case '"':
		j := i + 1
		for j < len(t) && t[j] != '"' && t[j] != '\\' {
			j++
		}
		if j < len(t) && t[j] == '"' {
			m.port = t[i+1 : j : j]
			m.portOff = i + 1
			m.flags |= flagPortInRaw
			m.argOff = j + 1
			return
		}
		// escapes: decode into scratch
		r := jsonReader{b: t, i: i, tmp: d.scratch[:0]}
		end, buf := r.unquote()
		d.scratch = buf
		m.port = buf
		m.argOff = end
	case 'n':
		m.port = t[i:i]
		m.argOff = i + 4
	case 't':
		m.port = portTrue
		m.argOff = i + 4
	case 'f':
		m.port = portFalse
		m.argOff = i + 5
	case '[', '{':
		m.flags = flagFromStart
		if c == '[' {
			m.port = portArray
		} else {
			m.port = portHash
		}
	default: // a number: as Perl writes the number JSON::XS reads
		j := i
		for j < len(t) && (isDigit(t[j]) || t[j] == '-' || t[j] == '+' || t[j] == '.' || t[j] == 'e' || t[j] == 'E') {
			j++
		}
		m.argOff = j
		d.scratch = appendJSONNumberText(d.scratch[:0], t[i:j])
		if string(d.scratch) == string(t[i:j]) {
			m.port = t[i:j:j]
			m.portOff = i
			m.flags |= flagPortInRaw
			return
		}
		m.port = d.scratch
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// jsonArgs decodes the arguments of a JSON message.
func (m *Message) jsonArgs() ([]any, error) {
	if m.flags&flagNoElems != 0 {
		return nil, nil
	}
	r := jsonReader{b: m.raw}
	if m.flags&flagFromStart != 0 {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		all, _ := v.([]any)
		if len(all) <= 1 {
			return nil, nil
		}
		return all[1:len(all):len(all)], nil
	}
	r.i = m.argOff
	var args []any
	for {
		r.i = skipSpace(r.b, r.i)
		if r.i >= len(r.b) {
			return nil, r.err()
		}
		switch r.b[r.i] {
		case ']':
			return args, nil
		case ',':
			r.i++
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			args = append(args, v)
		default:
			return nil, r.err()
		}
	}
}

// jsonReader decodes validated JSON into the value model. It still checks
// every bound, so that malformed input gives an error, never a panic.
type jsonReader struct {
	b   []byte
	i   int
	tmp []byte // scratch for unescaping
}

func (r *jsonReader) err() error {
	return newError("json", int64(r.i), ErrMalformed, "malformed JSON in a validated frame")
}

// value decodes the value at r.i (after optional whitespace).
func (r *jsonReader) value() (any, error) {
	r.i = skipSpace(r.b, r.i)
	if r.i >= len(r.b) {
		return nil, r.err()
	}
	switch c := r.b[r.i]; c {
	case '"':
		return r.str()
	case '[':
		r.i++
		var a []any
		r.i = skipSpace(r.b, r.i)
		if r.i < len(r.b) && r.b[r.i] == ']' {
			r.i++
			return []any{}, nil
		}
		for {
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			a = append(a, v)
			r.i = skipSpace(r.b, r.i)
			if r.i >= len(r.b) {
				return nil, r.err()
			}
			switch r.b[r.i] {
			case ',':
				r.i++
			case ']':
				r.i++
				return a[:len(a):len(a)], nil
			default:
				return nil, r.err()
			}
		}
	case '{':
		r.i++
		obj := make(map[string]any)
		r.i = skipSpace(r.b, r.i)
		if r.i < len(r.b) && r.b[r.i] == '}' {
			r.i++
			return obj, nil
		}
		for {
			r.i = skipSpace(r.b, r.i)
			if r.i >= len(r.b) || r.b[r.i] != '"' {
				return nil, r.err()
			}
			k, err := r.str()
			if err != nil {
				return nil, err
			}
			r.i = skipSpace(r.b, r.i)
			if r.i >= len(r.b) || r.b[r.i] != ':' {
				return nil, r.err()
			}
			r.i++
			v, err := r.value()
			if err != nil {
				return nil, err
			}
			obj[k.(string)] = v
			r.i = skipSpace(r.b, r.i)
			if r.i >= len(r.b) {
				return nil, r.err()
			}
			switch r.b[r.i] {
			case ',':
				r.i++
			case '}':
				r.i++
				return obj, nil
			default:
				return nil, r.err()
			}
		}
	case 't':
		return r.literal("true", true)
	case 'f':
		return r.literal("false", false)
	case 'n':
		return r.literal("null", nil)
	default:
		j := r.i
		for j < len(r.b) && (isDigit(r.b[j]) || r.b[j] == '-' || r.b[j] == '+' || r.b[j] == '.' || r.b[j] == 'e' || r.b[j] == 'E') {
			j++
		}
		if j == r.i {
			return nil, r.err()
		}
		v := Number(r.b[r.i:j])
		r.i = j
		return v, nil
	}
}

func (r *jsonReader) literal(word string, v any) (any, error) {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		return nil, r.err()
	}
	r.i += len(word)
	return v, nil
}

// str decodes the string at r.i (r.b[r.i] == '"') into a new Go string.
func (r *jsonReader) str() (any, error) {
	start := r.i + 1
	j := start
	ascii := true
	for j < len(r.b) {
		c := r.b[j]
		if c == '"' || c == '\\' {
			break
		}
		if c >= 0x80 {
			ascii = false
		}
		j++
	}
	if j >= len(r.b) {
		return nil, r.err()
	}
	if r.b[j] == '"' {
		r.i = j + 1
		if ascii {
			return string(r.b[start:j]), nil
		}
		return perlText(r.b[start:j]), nil
	}
	end, buf := r.unquote()
	r.tmp = buf
	if end < 0 {
		return nil, r.err()
	}
	r.i = end
	return perlText(buf), nil
}

// unquote decodes the string starting at r.b[r.i] == '"' into r.tmp[:0]
// and returns the offset after its closing quote (-1 if malformed) and the
// decoded bytes. Lone surrogate escapes (rejected by the splitter) become
// U+FFFD.
func (r *jsonReader) unquote() (int, []byte) {
	b := r.b
	buf := r.tmp[:0]
	i := r.i + 1
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, buf
		case c != '\\':
			j := i + 1
			for j < len(b) && b[j] != '"' && b[j] != '\\' {
				j++
			}
			buf = append(buf, b[i:j]...)
			i = j
			continue
		}
		if i+1 >= len(b) {
			return -1, buf
		}
		e := b[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			rn, ok := hex4(b, i)
			if !ok {
				return -1, buf
			}
			i += 4
			if rn >= 0xd800 && rn <= 0xdbff {
				if i+6 <= len(b) && b[i] == '\\' && b[i+1] == 'u' {
					if lo, ok := hex4(b, i+2); ok && lo >= 0xdc00 && lo <= 0xdfff {
						rn = 0x10000 + (rn-0xd800)<<10 + (lo - 0xdc00)
						i += 6
					}
				}
			}
			buf = utf8.AppendRune(buf, rune(rn)) // surrogates left alone become U+FFFD
		default:
			return -1, buf
		}
	}
	return -1, buf
}

func hex4(b []byte, i int) (uint32, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var v uint32
	for _, c := range b[i : i+4] {
		h := unhex(c)
		if h < 0 {
			return 0, false
		}
		v = v<<4 | uint32(h)
	}
	return v, true
}
