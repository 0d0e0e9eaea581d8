package framing

import (
	"encoding/binary"
	"strconv"
)

// Storable opcodes (docs/framing.md section 2).
const (
	sxObject      = 0x00
	sxLScalar     = 0x01
	sxArray       = 0x02
	sxHash        = 0x03
	sxRef         = 0x04
	sxUndef       = 0x05
	sxInteger     = 0x06
	sxDouble      = 0x07
	sxByte        = 0x08
	sxNetint      = 0x09
	sxScalar      = 0x0a
	sxTiedArray   = 0x0b
	sxTiedHash    = 0x0c
	sxTiedScalar  = 0x0d
	sxSvUndef     = 0x0e
	sxSvYes       = 0x0f
	sxSvNo        = 0x10
	sxBless       = 0x11
	sxIxBless     = 0x12
	sxHook        = 0x13
	sxOverload    = 0x14
	sxTiedKey     = 0x15
	sxTiedIdx     = 0x16
	sxUTF8Str     = 0x17
	sxLUTF8Str    = 0x18
	sxFlagHash    = 0x19
	sxCode        = 0x1a
	sxWeakRef     = 0x1b
	sxWeakOverld  = 0x1c
	sxVString     = 0x1d
	sxLVString    = 0x1e
	sxSvUndefElem = 0x1f
	sxRegexp      = 0x20
	sxLObject     = 0x21
	sxBoolTrue    = 0x22
	sxBoolFalse   = 0x23

	storableMajorNet = 0x05 // major 2, network order
	storableMaxMinor = 12

	// SX_FLAG_HASH key flags.
	kfUTF8        = 0x01
	kfSVKey       = 0x08
	kfPlaceholder = 0x10
)

// rejectedOpcodes names the valid Storable opcodes AEMP messages never
// contain.
var rejectedOpcodes = map[byte]string{
	sxInteger:    "SX_INTEGER (native integer)",
	sxDouble:     "SX_DOUBLE (native double)",
	sxTiedArray:  "SX_TIED_ARRAY",
	sxTiedHash:   "SX_TIED_HASH",
	sxTiedScalar: "SX_TIED_SCALAR",
	sxBless:      "SX_BLESS (blessed object)",
	sxIxBless:    "SX_IX_BLESS (blessed object)",
	sxHook:       "SX_HOOK (object with hooks)",
	sxOverload:   "SX_OVERLOAD (overloaded object)",
	sxTiedKey:    "SX_TIED_KEY",
	sxTiedIdx:    "SX_TIED_IDX",
	sxCode:       "SX_CODE (code reference)",
	sxWeakRef:    "SX_WEAKREF (weak reference)",
	sxWeakOverld: "SX_WEAKOVERLOAD (weak reference)",
	sxVString:    "SX_VSTRING (v-string)",
	sxLVString:   "SX_LVSTRING (v-string)",
	sxRegexp:     "SX_REGEXP (regular expression)",
	sxLObject:    "SX_LOBJECT (object over 2 GiB)",
}

// Boolean classes whose relay from JSON (SX_OVERLOAD + bless + SX_BYTE 0
// or 1) decodes to false/true.
var boolClasses = [...]string{"JSON::PP::Boolean", "JSON::XS::Boolean"}

// Value kinds the validator reports, for SX_REF/SX_OVERLOAD targets.
const (
	vkScalar = iota
	vkContainer
	vkBool
)

// storableValidator checks a storable image without allocating (its
// slices are reused from frame to frame) and counts its tags.
type storableValidator struct {
	b        []byte
	i        int
	base     int64 // stream offset of b[0]
	tags     int
	depth    int
	maxDepth int
	anc      []int    // tags of the refs and containers being read (ascending)
	cont     []uint64 // bit t: tag t is an array or a hash
	bools    []uint64 // bit t: tag t is a relayed JSON boolean scalar
	classes  int      // boolean class names blessed into so far
	hasObj   bool     // an SX_OBJECT occurs
}

func (v *storableValidator) reset() {
	*v = storableValidator{anc: v.anc[:0], cont: v.cont[:0], bools: v.bools[:0]}
}

func (v *storableValidator) begin(b []byte, base int64, maxDepth int) {
	clear(v.cont)
	clear(v.bools)
	*v = storableValidator{b: b, base: base, maxDepth: maxDepth,
		anc: v.anc[:0], cont: v.cont[:0], bools: v.bools[:0]}
}

// nextStorable implements Decoder.Next for storable framing.
// On success with n > 0 it fills *m.
func (d *Decoder) nextStorable(buf []byte, m *Message) (int, error) {
	if fastPaths {
		if n, ok := storableFast(buf, d.lim.MaxFrameSize, m); ok {
			return n, nil
		}
	}
	max := uint64(d.lim.MaxFrameSize)
	var size uint64
	i := 0
	for {
		if i >= len(buf) {
			return 0, nil
		}
		c := buf[i]
		if i == 0 && c == 0x80 {
			return 0, newError("storable", d.off, ErrMalformed, "non-minimal BER length prefix")
		}
		size = size<<7 | uint64(c&0x7f)
		i++
		if size > max {
			return 0, newError("storable", d.off, ErrFrameTooLarge,
				"frame length prefix announces more than "+strconv.FormatUint(max, 10)+" bytes")
		}
		if c < 0x80 {
			break
		}
	}
	total := i + int(size)
	if len(buf) < total {
		return 0, nil
	}
	if err := d.validateStorable(buf[:total], i, m); err != nil {
		return 0, err
	}
	return total, nil
}

// validateStorable checks the image frame[pre:] completely and fills *m
// (port extracted).
func (d *Decoder) validateStorable(frame []byte, pre int, m *Message) error {
	v := &d.st
	img := frame[pre:]
	v.begin(img, d.off+int64(pre), d.lim.MaxDepth)
	defer v.end()
	if len(img) < 2 {
		return v.err(0, ErrMalformed, "image shorter than its 2-byte header")
	}
	switch {
	case img[0] == storableMajorNet:
	case img[0] == 0x04:
		return v.err(0, ErrUnsupported, "native byte order image (freeze, not nfreeze)")
	case len(img) >= 4 && string(img[:4]) == "pst0":
		return v.err(0, ErrMalformed, `file magic "pst0" (nstore), not an nfreeze image`)
	default:
		return v.err(0, ErrMalformed, "bad header byte 0x"+strconv.FormatUint(uint64(img[0]), 16))
	}
	if img[1] > storableMaxMinor {
		return v.err(1, ErrMalformed, "minor version "+strconv.Itoa(int(img[1]))+" above 12")
	}
	if len(img) < 3 {
		return v.err(2, ErrMalformed, "image ends before its root")
	}
	if img[2] != sxArray {
		return v.err(2, ErrNotArray, "root is not an array (SX_ARRAY)")
	}
	v.i = 3
	count, err := v.count(1)
	if err != nil {
		return err
	}
	v.tags = 1
	v.mark(&v.cont, 0)
	v.anc = append(v.anc, 0)
	v.depth = 1
	*m = Message{raw: frame, kind: kindStorable, flags: flagRoutable}
	if count == 0 {
		m.flags |= flagNoElems
		m.port = frame[pre+3 : pre+3]
	} else {
		p0 := v.i
		if _, err := v.value(); err != nil {
			return err
		}
		d.storablePort(m, pre, p0)
		m.argOff = pre + v.i
		m.nargs = count - 1
		for k := 1; k < count; k++ {
			if _, err := v.value(); err != nil {
				return err
			}
		}
	}
	if v.i != len(img) {
		return v.err(v.i, ErrMalformed, strconv.Itoa(len(img)-v.i)+" trailing bytes after the root")
	}
	m.ntags = v.tags
	if v.hasObj {
		m.flags |= flagFromStart
	}
	return nil
}

// end clears the bit sets for the next frame.
func (v *storableValidator) end() {
	clear(v.cont)
	clear(v.bools)
	v.cont = v.cont[:0]
	v.bools = v.bools[:0]
	v.anc = v.anc[:0]
	v.b = nil
}

func (v *storableValidator) err(i int, sentinel error, detail string) error {
	return newError("storable", v.base+int64(i), sentinel, detail)
}

func (v *storableValidator) truncated() error {
	return v.err(len(v.b), ErrMalformed, "image truncated")
}

func (v *storableValidator) mark(set *[]uint64, t int) {
	w := t >> 6
	for len(*set) <= w {
		*set = append(*set, 0)
	}
	(*set)[w] |= 1 << (t & 63)
}

func isMarked(set []uint64, t int) bool {
	w := t >> 6
	return w < len(set) && set[w]&(1<<(t&63)) != 0
}

// u32 reads a 4-byte big-endian length, count or tag below 2^31.
func (v *storableValidator) u32() (int, error) {
	if len(v.b)-v.i < 4 {
		return 0, v.truncated()
	}
	n := binary.BigEndian.Uint32(v.b[v.i:])
	if n >= 1<<31 {
		return 0, v.err(v.i, ErrMalformed, "length or count of 2^31 or more")
	}
	v.i += 4
	return int(n), nil
}

// count reads an element count and checks that minSize bytes per element
// fit in the rest of the image.
func (v *storableValidator) count(minSize int) (int, error) {
	at := v.i
	n, err := v.u32()
	if err != nil {
		return 0, err
	}
	if n > (len(v.b)-v.i)/minSize {
		return 0, v.err(at, ErrMalformed, "count "+strconv.Itoa(n)+" larger than the rest of the frame")
	}
	return n, nil
}

// skip checks that n bytes remain and skips them.
func (v *storableValidator) skip(n int) error {
	if len(v.b)-v.i < n {
		return v.err(v.i, ErrMalformed, "length "+strconv.Itoa(n)+" larger than the rest of the frame")
	}
	v.i += n
	return nil
}

// inProgress reports whether tag t belongs to a ref or container still
// being read (a reference to it would be a cycle).
func (v *storableValidator) inProgress(t int) bool {
	lo, hi := 0, len(v.anc)
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case v.anc[mid] == t:
			return true
		case v.anc[mid] < t:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return false
}

// value validates one object and reports its kind.
func (v *storableValidator) value() (int, error) {
	if v.i >= len(v.b) {
		return 0, v.truncated()
	}
	at := v.i
	op := v.b[v.i]
	v.i++
	switch op {
	case sxObject:
		t, err := v.u32()
		if err != nil {
			return 0, err
		}
		if t >= v.tags {
			return 0, v.err(at, ErrMalformed, "SX_OBJECT refers to tag "+strconv.Itoa(t)+", not seen yet")
		}
		if v.inProgress(t) {
			return 0, v.err(at, ErrMalformed, "cyclic reference (SX_OBJECT to an enclosing object)")
		}
		v.hasObj = true
		switch {
		case isMarked(v.cont, t):
			return vkContainer, nil
		case isMarked(v.bools, t):
			return vkBool, nil
		}
		return vkScalar, nil
	case sxScalar, sxUTF8Str:
		if v.i >= len(v.b) {
			return 0, v.truncated()
		}
		n := int(v.b[v.i])
		v.i++
		v.tags++
		return vkScalar, v.skip(n)
	case sxLScalar, sxLUTF8Str:
		n, err := v.u32()
		if err != nil {
			return 0, err
		}
		v.tags++
		return vkScalar, v.skip(n)
	case sxUndef, sxSvUndef, sxSvUndefElem, sxSvYes, sxSvNo, sxBoolTrue, sxBoolFalse:
		v.tags++
		return vkScalar, nil
	case sxByte:
		v.tags++
		return vkScalar, v.skip(1)
	case sxNetint:
		v.tags++
		return vkScalar, v.skip(4)
	case sxArray, sxHash, sxFlagHash:
		if v.depth >= v.maxDepth {
			return 0, v.err(at, ErrTooDeep, "nesting deeper than "+strconv.Itoa(v.maxDepth))
		}
		tag := v.tags
		v.tags++
		v.mark(&v.cont, tag)
		if op == sxFlagHash {
			if err := v.skip(1); err != nil { // hash flags (restricted hash): ignored
				return 0, err
			}
		}
		minSize := 1 // array element: one opcode
		switch op {
		case sxHash:
			minSize = 5 // value + key length
		case sxFlagHash:
			minSize = 6 // value + key flags + key length
		}
		n, err := v.count(minSize)
		if err != nil {
			return 0, err
		}
		v.anc = append(v.anc, tag)
		v.depth++
		for k := 0; k < n; k++ {
			if _, err := v.value(); err != nil {
				return 0, err
			}
			if op == sxArray {
				continue
			}
			if op == sxFlagHash {
				if v.i >= len(v.b) {
					return 0, v.truncated()
				}
				if kf := v.b[v.i]; kf&kfSVKey != 0 {
					return 0, v.err(v.i, ErrUnsupported, "hash key stored as an object (SHV_K_ISSV)")
				}
				v.i++
			}
			kl, err := v.u32()
			if err != nil {
				return 0, err
			}
			if err := v.skip(kl); err != nil {
				return 0, err
			}
		}
		v.depth--
		v.anc = v.anc[:len(v.anc)-1]
		return vkContainer, nil
	case sxRef:
		tag := v.tags
		v.tags++
		if v.i >= len(v.b) {
			return 0, v.truncated()
		}
		switch next := v.b[v.i]; next {
		case sxArray, sxHash, sxFlagHash, sxObject:
		case sxBless, sxIxBless:
			return 0, v.opErr(v.i, ErrUnsupported, next, "blessed object")
		default:
			if name, ok := rejectedOpcodes[next]; ok {
				return 0, v.opErr(v.i, ErrUnsupported, next, name)
			}
			if next > sxBoolFalse {
				return 0, v.opErr(v.i, ErrMalformed, next, "unknown opcode")
			}
			return 0, v.opErr(v.i, ErrUnsupported, next, "reference to a scalar")
		}
		v.anc = append(v.anc, tag)
		k, err := v.value()
		if err != nil {
			return 0, err
		}
		v.anc = v.anc[:len(v.anc)-1]
		if k != vkContainer {
			return 0, v.opErr(at, ErrUnsupported, sxObject, "reference to a scalar")
		}
		return vkContainer, nil
	case sxOverload:
		return v.boolean(at)
	}
	if name, ok := rejectedOpcodes[op]; ok {
		return 0, v.opErr(at, ErrUnsupported, op, name)
	}
	return 0, v.opErr(at, ErrMalformed, op, "unknown opcode")
}

func (v *storableValidator) opErr(i int, sentinel error, op byte, detail string) error {
	e := newError("storable", v.base+int64(i), sentinel, detail)
	e.Opcode = int(op)
	return e
}

// boolean validates the relay of a JSON boolean: SX_OVERLOAD, then
// SX_BLESS "JSON::PP::Boolean" (or SX_IX_BLESS of such a class), then
// SX_BYTE 0 or 1; or SX_OVERLOAD SX_OBJECT of such a scalar.
func (v *storableValidator) boolean(at int) (int, error) {
	v.tags++ // the reference
	if v.i >= len(v.b) {
		return 0, v.truncated()
	}
	switch v.b[v.i] {
	case sxBless:
		v.i++
		if v.i >= len(v.b) {
			return 0, v.truncated()
		}
		n := int(v.b[v.i])
		v.i++
		if n&0x80 != 0 || len(v.b)-v.i < n {
			return 0, v.opErr(at, ErrUnsupported, sxOverload, "blessed object")
		}
		name := string(v.b[v.i : v.i+n])
		if name != boolClasses[0] && name != boolClasses[1] {
			return 0, v.opErr(at, ErrUnsupported, sxOverload, "blessed object of class "+strconv.Quote(name))
		}
		v.i += n
		v.classes++
	case sxIxBless:
		v.i++
		if v.i >= len(v.b) {
			return 0, v.truncated()
		}
		if ix := int(v.b[v.i]); ix >= v.classes {
			return 0, v.opErr(at, ErrUnsupported, sxIxBless, "blessed object (unknown class index)")
		}
		v.i++
	case sxObject:
		v.i++
		t, err := v.u32()
		if err != nil {
			return 0, err
		}
		if t >= v.tags || !isMarked(v.bools, t) {
			return 0, v.opErr(at, ErrUnsupported, sxOverload, "overloaded object")
		}
		v.hasObj = true
		return vkBool, nil
	default:
		return 0, v.opErr(at, ErrUnsupported, sxOverload, "overloaded object")
	}
	if len(v.b)-v.i < 2 || v.b[v.i] != sxByte || (v.b[v.i+1] != 0x80 && v.b[v.i+1] != 0x81) {
		return 0, v.opErr(at, ErrUnsupported, sxOverload, "blessed object (not a boolean)")
	}
	v.mark(&v.bools, v.tags)
	v.tags++
	v.i += 2
	return vkBool, nil
}

// storablePort sets m.port from element 0, which starts at image offset p0
// and has been validated. pre is the length of the BER prefix.
func (d *Decoder) storablePort(m *Message, pre, p0 int) {
	img := m.raw[pre:]
	switch op := img[p0]; op {
	case sxScalar, sxUTF8Str, sxLScalar, sxLUTF8Str:
		s, n := p0+2, int(img[p0+1])
		if op == sxLScalar || op == sxLUTF8Str {
			s, n = p0+5, int(binary.BigEndian.Uint32(img[p0+1:]))
		}
		b := img[s : s+n : s+n]
		if (op == sxScalar || op == sxLScalar) && !isASCII(b) {
			d.scratch = latin1ToUTF8(d.scratch[:0], b)
			m.port = d.scratch
			return
		}
		m.port = b
		m.portOff = pre + s
		m.flags |= flagPortInRaw
	case sxByte:
		d.scratch = strconv.AppendInt(d.scratch[:0], int64(img[p0+1])-128, 10)
		m.port = d.scratch
	case sxNetint:
		d.scratch = strconv.AppendInt(d.scratch[:0], int64(int32(binary.BigEndian.Uint32(img[p0+1:]))), 10)
		m.port = d.scratch
	case sxSvYes, sxBoolTrue:
		m.port = portTrue
	case sxOverload: // relayed JSON boolean: Perl stringifies it as 1 or 0
		j := p0 + 1
		if img[j] == sxBless {
			j += 2 + int(img[j+1])
		} else {
			j += 2
		}
		if img[j+1] == 0x81 {
			m.port = portTrue
		} else {
			m.port = portFalse
		}
	case sxArray, sxHash, sxFlagHash, sxRef:
		m.flags &^= flagRoutable
		if op == sxHash || op == sxFlagHash || (op == sxRef && img[p0+1] != sxArray) {
			m.port = portHash
		} else {
			m.port = portArray
		}
	default: // undef, SV_NO, BOOLEAN_FALSE: ""
		m.port = img[p0:p0]
	}
}
