// Package md6 implements the MD6 hash function (Rivest et al., 2008/2009)
// bit-exactly for every parameter of its definition: digest sizes of 1 to
// 512 bits, keys of up to 64 bytes, the mode parameter L (tree levels, with
// L = 0 purely sequential) and any number of rounds, for messages of any
// length in bits. It also provides HMAC-MD6 as Perl's Digest::HMAC_MD6
// computes it, which AnyEvent::MP uses to authenticate nodes.
//
// The mode of operation (tree levels, the sequential level, padding and the
// final node) lives in this package; the compression function is one
// replaceable kernel chosen at start-up (see Implementation): generic Go,
// or SIMD assembly from package md6/asm (AVX2, AVX-512, NEON). In tree
// mode the nodes of a level are compressed several at a time by the
// kernel's multi-buffer entry point, and WithParallel spreads long
// messages over goroutines; the digests are always the same.
package md6

import (
	"errors"
	"fmt"
)

// Sizes of the MD6 compression function, in 64-bit words.
const (
	// InputWords is the size of the compression input N: Q, K, U, V and B.
	InputWords = 89
	// ChunkWords is the size of a compression output (a "chunk").
	ChunkWords = 16
	// BlockWords is the size of the data block B.
	BlockWords = 64

	// BlockSize is the size of the data block B in bytes: a leaf holds
	// this many message bytes.
	BlockSize = BlockWords * 8

	// MaxSize is the largest digest size in bits.
	MaxSize = 512
	// MaxKeySize is the largest key in bytes.
	MaxKeySize = 64
	// MaxL is the largest mode parameter L accepted.
	MaxL = 64
	// DefaultL is the mode parameter used unless WithL says otherwise.
	DefaultL = 64
	// MaxRounds is the largest number of rounds accepted (the reference's
	// limit; the control word has room for 4095).
	MaxRounds = 255
)

// Offsets of the parts of the compression input N.
const (
	offQ = 0
	offK = 15
	offU = 23
	offV = 24
	offB = 25
)

// q holds the fractional part of sqrt(6): the first 15 words of every
// compression input.
var q = [15]uint64{
	0x7311c2812425cfa0, 0x6432286434aac8e7, 0xb60450e9ef68b7c1,
	0xe8fb23908d9f06f1, 0xdd2e76cba691e5bf, 0x0cd0d63b2c30bc41,
	0x1f8ccf6823058f8a, 0x54e5ed5b88e3775d, 0x4ad12aae0a6d6031,
	0x3e7f16bb88222e0d, 0x8af8671d3fb50c2c, 0x995ad1178bd25c31,
	0xc878c1dd04c4b633, 0x3b72066c7a1552ac, 0x0d6f3522631effcb,
}

// roundConstants holds S_0 .. S_254: S_0 = 0x0123456789abcdef and
// S_{j+1} = rotl(S_j, 1) ^ (S_j & Q[0]).
var roundConstants = func() (s [MaxRounds]uint64) {
	s[0] = 0x0123456789abcdef
	for j := 1; j < MaxRounds; j++ {
		p := s[j-1]
		s[j] = (p<<1 | p>>63) ^ (p & q[0])
	}
	return s
}()

// Errors returned for invalid parameters. They wrap into a *ParamError
// naming the value; match them with errors.Is.
var (
	ErrSize   = errors.New("md6: digest size must be 1..512 bits")
	ErrKey    = errors.New("md6: key must be at most 64 bytes")
	ErrL      = errors.New("md6: mode parameter L must be 0..64")
	ErrRounds = errors.New("md6: rounds must be 0..255")
	// ErrTooLong is returned by WriteBits when the message would exceed
	// 2^64-1 bits, the most the mode of operation can number.
	ErrTooLong = errors.New("md6: message longer than 2^64-1 bits")
)

// ParamError reports an invalid parameter and the value given.
type ParamError struct {
	Err   error // one of ErrSize, ErrKey, ErrL, ErrRounds
	Value int
}

// Error returns the error with the value that was refused.
func (e *ParamError) Error() string { return fmt.Sprintf("%v (got %d)", e.Err, e.Value) }

// Unwrap returns the sentinel error.
func (e *ParamError) Unwrap() error { return e.Err }

// DefaultRounds returns the number of rounds MD6 uses for a d-bit digest
// and a key of keylen bytes: 40 + d/4, and at least 80 with a key.
func DefaultRounds(d, keylen int) int {
	r := 40 + d/4
	if keylen > 0 && r < 80 {
		r = 80
	}
	return r
}

// Option changes one parameter of New.
type Option func(*params)

type params struct {
	key     []byte
	l       int
	rounds  int // -1: default
	kernel  *Kernel
	workers int
}

// WithKey sets the key (0..64 bytes). An empty key is the same as none.
func WithKey(key []byte) Option { return func(p *params) { p.key = key } }

// WithL sets the mode parameter L: 0 is purely sequential, 1..64 uses tree
// levels up to L and a sequential level above them. The default is 64.
func WithL(l int) Option { return func(p *params) { p.l = l } }

// WithRounds sets the number of rounds instead of DefaultRounds.
func WithRounds(r int) Option { return func(p *params) { p.rounds = r } }

// WithKernel makes the digest use kernel k instead of the one chosen at
// start-up (tests and benchmarks compare kernels with it).
func WithKernel(k *Kernel) Option { return func(p *params) { p.kernel = k } }
