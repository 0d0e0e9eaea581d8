package framing

import "unicode/utf8"

// cborScalarArgs implements ScalarArgs for cbor: it walks the validated
// arguments of b from i, count of them (-1: up to the break of an
// indefinite-length message array). Floats, indefinite-length strings,
// tags and containers are left to Args (ok false).
func cborScalarArgs(b []byte, i, count int) (n, length int, first []byte, ok bool) {
	for k := 0; count < 0 || k < count; k++ {
		if i >= len(b) {
			return 0, 0, nil, false
		}
		c := b[i]
		if count < 0 && c == cborBreak {
			break
		}
		major, ai, arg, hl, hok := cborHead(b, i)
		if !hok || ai >= 28 {
			return 0, 0, nil, false
		}
		i += hl
		switch major {
		case cborUint:
			length += uintLen(arg)
		case cborNeg:
			if arg == 1<<64-1 {
				length += 21 // -18446744073709551616
			} else {
				length += 1 + uintLen(arg+1)
			}
		case cborBytes, cborText:
			if uint64(len(b)-i) < arg {
				return 0, 0, nil, false
			}
			s := b[i : i+int(arg) : i+int(arg)]
			i += int(arg)
			if major == cborText {
				length += perlCharCount(s)
			} else {
				length += len(s)
			}
			if k == 0 && (major == cborText && utf8.Valid(s) || major == cborBytes && isASCII(s)) {
				first = s
			}
		case cborSimple:
			switch c {
			case cborNull, cborUndefined:
			case cborTrue, cborFalse: // stringify as "1" / "0"
				length++
			default: // floats
				return 0, 0, nil, false
			}
		default:
			return 0, 0, nil, false
		}
		n++
	}
	return n, length, first, true
}

// uintLen is the number of decimal digits of v.
func uintLen(v uint64) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}
