package fuzz

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The oracle of the differential fuzz targets: a long-running Perl process
// (perl/oracle.pl) with Debian's JSON::XS, CBOR::XS and Storable,
// configured as AnyEvent::MP uses them, spoken to over a pipe with a
// length-prefixed protocol (described in perl/oracle.pl).

// oracleMemLimit bounds the oracle's address space: Storable and CBOR::XS
// allocate what a count claims before checking it, and a fuzzed count of
// 2^31 would otherwise take the machine's memory. Perl dies instead, and
// the oracle is restarted.
const oracleMemLimit = 1 << 30

// oracleTimeout bounds one request (well below the fuzzing engine's 10 s
// for an input); a Perl that takes longer is killed and restarted, and
// counts as having died on the input.
const oracleTimeout = 4 * time.Second

type oracle struct {
	mu      sync.Mutex
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	stderr  *bytes.Buffer
	version string
	buf     []byte
}

var (
	oracleOnce sync.Once
	theOracle  *oracle
	oracleErr  error
)

// perlOracle returns the process-wide oracle, starting it on first use.
// Without perl or without one of its modules the test is skipped.
func perlOracle(tb testing.TB) *oracle {
	tb.Helper()
	oracleOnce.Do(func() {
		theOracle = &oracle{}
		oracleErr = theOracle.start()
		if oracleErr == nil {
			theOracle.version, oracleErr = theOracle.ask('V', 'j', nil)
		}
	})
	if oracleErr != nil {
		tb.Skipf("differential fuzzing needs perl with JSON::XS, CBOR::XS and Storable "+
			"(Debian: perl libjson-xs-perl libcbor-xs-perl): %v", oracleErr)
	}
	return theOracle
}

func (o *oracle) start() error {
	perl, err := exec.LookPath("perl")
	if err != nil {
		return err
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "perl", "oracle.pl")
	if _, err := os.Stat(script); err != nil {
		return err
	}
	cmd := exec.Command(perl, script)
	o.stderr = new(bytes.Buffer)
	cmd.Stderr = o.stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	limitOracleMemory(cmd.Process.Pid, oracleMemLimit)
	o.cmd, o.in, o.out = cmd, in, bufio.NewReaderSize(out, 1<<16)
	return nil
}

// errOracleDied reports that Perl died on a request (out of memory, a
// crash, a hang): the request's input is one Perl cannot take.
var errOracleDied = errors.New("perl died")

// call sends one request and returns the response's status and payload
// (valid until the next call). If Perl dies, it is restarted and call
// returns errOracleDied.
func (o *oracle) call(op, framing byte, payload []byte) (byte, []byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cmd == nil {
		if err := o.start(); err != nil {
			return 0, nil, err
		}
	}
	hdr := [6]byte{op, framing}
	binary.BigEndian.PutUint32(hdr[2:], uint32(len(payload)))
	cmd := o.cmd
	timer := time.AfterFunc(oracleTimeout, func() { cmd.Process.Kill() })
	status, body, err := o.roundTrip(hdr[:], payload)
	timer.Stop()
	if err != nil {
		o.in.Close()
		o.cmd.Process.Kill()
		o.cmd.Wait()
		o.cmd = nil
		return 0, nil, fmt.Errorf("%w: %v (%s)", errOracleDied, err, firstLine(o.stderr.String()))
	}
	return status, body, nil
}

func (o *oracle) roundTrip(hdr, payload []byte) (byte, []byte, error) {
	if _, err := o.in.Write(append(hdr, payload...)); err != nil {
		return 0, nil, err
	}
	var rh [5]byte
	if _, err := io.ReadFull(o.out, rh[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(rh[1:])
	if cap(o.buf) < int(n) {
		o.buf = make([]byte, n)
	}
	o.buf = o.buf[:n]
	if _, err := io.ReadFull(o.out, o.buf); err != nil {
		return 0, nil, err
	}
	return rh[0], o.buf, nil
}

func (o *oracle) ask(op, framing byte, payload []byte) (string, error) {
	_, body, err := o.call(op, framing, payload)
	return string(body), err
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// perlValue is a value as Perl holds it (the oracle's DUMP).
type perlValue struct {
	kind  byte // u i w n s T F e a h o r x c Z, as in perl/oracle.pl
	i     int64
	u     uint64
	f     float64
	utf8  bool         // s: Perl's UTF-8 flag
	b     []byte       // s: the internal bytes; n: Perl's string form; o: the class; x: the type
	elems []*perlValue // a; h: the values
	keys  []perlKey    // h
	inner *perlValue   // o, r
}

type perlKey struct {
	utf8 bool
	b    []byte
}

// perlStream is what Perl made of a byte stream.
type perlStream struct {
	msgs []*perlValue // every message taken (json: also top-level non-arrays)
	end  byte         // K complete, P waiting, Q waiting but likely bad (cbor), N pending json value, X error, D died
	next *perlValue   // N: the value
	err  string       // X, Q, D: the message
	drop []byte       // json: bytes JSON::XS dropped after the messages
}

// decode asks Perl to read stream in framing ('j', 's', 'c').
func (o *oracle) decode(framing byte, stream []byte) (*perlStream, error) {
	status, body, err := o.call('D', framing, stream)
	if errors.Is(err, errOracleDied) {
		return &perlStream{end: 'D', err: err.Error()}, nil
	}
	if err != nil {
		return nil, err
	}
	if status != 'D' {
		return nil, fmt.Errorf("oracle: status %q for a decode", status)
	}
	p := dumpParser{b: body}
	var s perlStream
	for {
		c, err := p.byte()
		if err != nil {
			return nil, err
		}
		switch c {
		case 'M':
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			s.msgs = append(s.msgs, v)
			continue
		case 'S':
			if s.drop, err = p.lenBytes(); err != nil {
				return nil, err
			}
			continue
		case 'K', 'P':
		case 'N':
			if s.next, err = p.value(); err != nil {
				return nil, err
			}
		case 'X', 'Q':
			b, err := p.lenBytes()
			if err != nil {
				return nil, err
			}
			s.err = string(b)
		default:
			return nil, fmt.Errorf("oracle: end marker %q", c)
		}
		s.end = c
		if len(p.b) != 0 {
			return nil, fmt.Errorf("oracle: %d bytes after the end marker", len(p.b))
		}
		return &s, nil
	}
}

// encode asks Perl to build the value of recipe and encode it in framing.
// ok is false with Perl's error text when the encoder dies.
func (o *oracle) encode(framing byte, recipe []byte) (out []byte, perr string, err error) {
	status, body, err := o.call('E', framing, recipe)
	if err != nil {
		return nil, "", err
	}
	switch status {
	case 'B':
		return bytes.Clone(body), "", nil
	case 'X':
		return nil, string(body), nil
	}
	return nil, "", fmt.Errorf("oracle: status %q for an encode", status)
}

type dumpParser struct{ b []byte }

var errDumpShort = errors.New("oracle: dump ends early")

func (p *dumpParser) byte() (byte, error) {
	if len(p.b) == 0 {
		return 0, errDumpShort
	}
	c := p.b[0]
	p.b = p.b[1:]
	return c, nil
}

func (p *dumpParser) take(n int) ([]byte, error) {
	if n < 0 || len(p.b) < n {
		return nil, errDumpShort
	}
	out := p.b[:n:n]
	p.b = p.b[n:]
	return out, nil
}

func (p *dumpParser) u32() (int, error) {
	b, err := p.take(4)
	if err != nil {
		return 0, err
	}
	return int(binary.BigEndian.Uint32(b)), nil
}

func (p *dumpParser) lenBytes() ([]byte, error) {
	n, err := p.u32()
	if err != nil {
		return nil, err
	}
	b, err := p.take(n)
	return bytes.Clone(b), err
}

func (p *dumpParser) value() (*perlValue, error) {
	c, err := p.byte()
	if err != nil {
		return nil, err
	}
	v := &perlValue{kind: c}
	switch c {
	case 'u', 'T', 'F', 'e', 'c', 'Z':
	case 'i', 'w', 'n':
		b, err := p.take(8)
		if err != nil {
			return nil, err
		}
		x := binary.BigEndian.Uint64(b)
		v.i, v.u, v.f = int64(x), x, math.Float64frombits(x)
		if c == 'n' { // and Perl's string form of the double
			if v.b, err = p.lenBytes(); err != nil {
				return nil, err
			}
		}
	case 's':
		f, err := p.byte()
		if err != nil {
			return nil, err
		}
		v.utf8 = f != 0
		if v.b, err = p.lenBytes(); err != nil {
			return nil, err
		}
	case 'a':
		n, err := p.u32()
		if err != nil {
			return nil, err
		}
		for range n {
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.elems = append(v.elems, e)
		}
	case 'h':
		n, err := p.u32()
		if err != nil {
			return nil, err
		}
		for range n {
			f, err := p.byte()
			if err != nil {
				return nil, err
			}
			k, err := p.lenBytes()
			if err != nil {
				return nil, err
			}
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, perlKey{utf8: f != 0, b: k})
			v.elems = append(v.elems, e)
		}
	case 'o':
		if v.b, err = p.lenBytes(); err != nil {
			return nil, err
		}
		if v.inner, err = p.value(); err != nil {
			return nil, err
		}
	case 'r':
		if v.inner, err = p.value(); err != nil {
			return nil, err
		}
	case 'x':
		if v.b, err = p.lenBytes(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("oracle: dump kind %q", c)
	}
	return v, nil
}

// String renders a Perl value for failure messages.
func (v *perlValue) String() string {
	var sb strings.Builder
	v.render(&sb)
	return sb.String()
}

func (v *perlValue) render(sb *strings.Builder) {
	if v == nil {
		sb.WriteString("<none>")
		return
	}
	switch v.kind {
	case 'u':
		sb.WriteString("undef")
	case 'i':
		sb.WriteString("IV " + strconv.FormatInt(v.i, 10))
	case 'w':
		sb.WriteString("UV " + strconv.FormatUint(v.u, 10))
	case 'n':
		sb.WriteString("NV " + strconv.FormatFloat(v.f, 'g', -1, 64))
	case 's':
		if v.utf8 {
			sb.WriteString("text ")
		} else {
			sb.WriteString("bytes ")
		}
		sb.WriteString(strconv.Quote(string(v.b)))
	case 'T':
		sb.WriteString("true")
	case 'F':
		sb.WriteString("false")
	case 'e':
		sb.WriteString("Types::Serialiser::error")
	case 'a':
		sb.WriteString("[")
		for i, e := range v.elems {
			if i > 0 {
				sb.WriteString(", ")
			}
			e.render(sb)
		}
		sb.WriteString("]")
	case 'h':
		sb.WriteString("{")
		for i, e := range v.elems {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(strconv.Quote(string(v.keys[i].b)) + " => ")
			e.render(sb)
		}
		sb.WriteString("}")
	case 'o':
		sb.WriteString("bless(")
		v.inner.render(sb)
		sb.WriteString(", " + strconv.Quote(string(v.b)) + ")")
	case 'r':
		sb.WriteString("\\")
		v.inner.render(sb)
	case 'x':
		sb.WriteString(string(v.b) + "(...)")
	case 'c':
		sb.WriteString("<cycle>")
	case 'Z':
		sb.WriteString("<too large>")
	}
}
