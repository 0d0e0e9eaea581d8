// Package nodefuzz is a black-box network fuzzer for AEMP nodes (aemp-go,
// AnyEvent::MP 1.x and 2.x): "aemp fuzz". It knows the target only by
// what the target sends on the wire.
//
// # Cases
//
// Each case opens one connection and is about one phase
// (docs/protocol.md, the handshake and the node port):
//
//   - greeting: our two greeting lines mangled (fields, separators,
//     lengths around the 4 KiB line limit, encodings, line ends, protocol
//     upgrades such as aemp-dataconn, the echo of the target's own lines),
//     delivered whole, split or trickled;
//   - auth: a good greeting, then an auth line with another method, a
//     mangled token, an odd framing, extra fields or line ends;
//   - data: a good handshake, then the switch (frames in the write of the
//     auth line, CR LF, a frame in another framing than announced) and one
//     to three frames in a framing the target accepts: node-port requests
//     with odd arguments, messages that are big, deep or exotic, and bad
//     frames (truncated, lengths and counts that lie, invalid UTF-8, junk
//     values, wrong headers).
//
// Decisions are drawn from a generator seeded with (seed, case number), so
// a seed gives the same cases; the bytes after the handshake differ from
// run to run only by the auth token (the target's nonce).
//
// # Oracles
//
// After a data-phase case whose frames are complete, the fuzzed link must
// answer a node-port time request or be closed by the target within
// Options.LinkTimeout, or within as long again once the probe has
// succeeded (else dead-link). After every case a fresh
// connection authenticates (package handshake) and must complete a time
// round trip within Options.ProbeTimeout (else hang; crash when it cannot
// connect; after a crash the run waits up to Options.CrashWait for the
// target, else it stops). With Options.PID, the target's RSS
// Options.RSSDelay after a case must be within Options.RSSLimit of its RSS
// before (else memory; the case blamed is the one after which the largest
// rise between consecutive samples came, see memWatch). Findings are
// de-duplicated by kind and phase and
// saved as JSON files (Finding) that Replay runs again.
//
// # Safety
//
// A Perl node calls any Pkg::func name it is sent as a node-port request
// and evaluates eval requests. The fuzzer therefore keeps these rules by
// construction, and checks every message against them before it is
// encoded (a failure is a bug in the generator, which panics):
//
//   - a node-port request name is one of Requests; mutations change
//     arguments, never the name; eval, spawn and function names are never
//     sent;
//   - kil and kil1 name only made-up ports ("fz..."), never "" or null;
//   - reply ports (time, info, known_nodes, up_nodes, can) are ports of
//     the fuzzer's own node ID, or numbers and containers, which name no
//     node's port; relay destinations (snd, snd_multiple) are ports of
//     made-up nodes or made-up ports of the target;
//   - messages go to made-up ports, never to an application port such as
//     echo, which would pass arguments on;
//   - addresses a node would connect to (g_found, the 'l family of the
//     global database) are 127.0.0.1 ports nothing listens on, never host
//     names;
//   - no nested array starts with something that names an existing port
//     or the node port, so no part of a message read out of place (after a
//     count that lies) is a request; corruption of a frame starts after
//     its request name; only a trailing filler string of letters lies
//     about its length;
//   - no cbor tag makes a Perl node load a module or revive an object, no
//     Storable opcode blesses, hooks, ties or compiles, and no Storable
//     length or count claims more than maxClaim (Storable allocates what
//     they claim before it reads the data);
//   - nothing is spawned, and at most two connections are open at a time
//     (the fuzzed link and the probe).
//
// # Use
//
// Run and Replay are called from one goroutine; Options.Progress is
// written from a goroutine of Run's.
package nodefuzz
