# aemp-go: an AEMP (AnyEvent::MP transport) node in Go.
#
#   make run        start a node (the main job)
#   make test       vet + all tests with the race detector (what CI runs),
#                   md6 also on arm64 (qemu-user), other x86 CPUs and purego
#   make test-long  the same with the big cases at full size
#   make generate   regenerate md6/asm/*.s (committed) from md6/asm/_gen
#   make bench      Go benchmarks of every package
#   make bench-compare  Go vs Perl vs baselines on this machine -> bench/RESULTS.md
#   make fuzz       every fuzz target (but the differential ones) for FUZZTIME each
#   make fuzz-diff  the differential targets (our codecs against Perl's) for FUZZTIME each

GO       ?= go
FUZZTIME ?= 30s
BIN      := bin/aemp
# Debian packages the tests use; installed by 'make deps' when missing.
# qemu-user-static: md6's NEON kernels run under qemu-aarch64-static, its
# dispatch on older x86 CPUs under qemu-x86_64-static.
# perl and its modules: the interop tests run Perl peers (bench/perl/) built
# only on Debian's AnyEvent::Handle, JSON::XS, CBOR::XS, Digest::SHA3 and
# Digest::HMAC; EV is the event loop AnyEvent picks when present, as on a
# real Perl node (the Perl figures in bench/RESULTS.md are with EV).
APT_PKGS ?= qemu-user-static perl libanyevent-perl libjson-xs-perl libcbor-xs-perl \
	libdigest-sha3-perl libdigest-hmac-perl libev-perl
QEMU_ARM64 ?= qemu-aarch64-static
QEMU_X86   ?= qemu-x86_64-static

.PHONY: all build run test test-long bench bench-compare fuzz fuzz-diff deps vet clean generate test-md6-arch test-arm64 test-purego test-x86-cpus

all: build

build:
	$(GO) build -o $(BIN) ./cmd/aemp

# run starts a node on 127.0.0.1:4040 with a development secret (printed,
# so that other nodes can use it); Ctrl-C stops it.
DEV_SECRET ?= aemp-dev-secret
run: build
	@echo "development secret: $(DEV_SECRET)  (talk to it with: ./$(BIN) bench --connect 127.0.0.1:4040 --secret $(DEV_SECRET))"
	./$(BIN) node --bind 127.0.0.1:4040 --secret $(DEV_SECRET)

# deps installs missing Debian packages (needs root and apt-get); it does
# nothing when everything is there.
deps:
	@missing=""; for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

vet:
	$(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

test: deps vet
	$(GO) test -race -short -timeout 15m ./...
	$(GO) test -timeout 10m ./md6/...
	$(MAKE) test-md6-arch

test-long: deps vet
	$(GO) test -race -timeout 60m ./...
	$(GO) test -timeout 30m ./md6/...
	$(MAKE) test-md6-arch

# md6 beyond the native build: the NEON kernels executed under qemu-user,
# the choice of kernel on emulated x86 CPUs without AVX-512 and without
# AVX2, and the build without assembly (purego).
test-md6-arch: test-arm64 test-x86-cpus test-purego

test-arm64:
	GOARCH=arm64 $(GO) vet ./md6/...
	@mkdir -p bin
	GOARCH=arm64 $(GO) test -c -o bin/md6.arm64.test ./md6
	GOARCH=arm64 $(GO) test -c -o bin/md6asm.arm64.test ./md6/asm
	@if [ "$$($(GO) env GOHOSTARCH)" = arm64 ]; then run=; else run=$(QEMU_ARM64); fi; \
	(cd md6/asm && $$run ../../bin/md6asm.arm64.test -test.short) && \
	(cd md6 && AEMP_MD6_WANT_IMPL=neon $$run ../bin/md6.arm64.test -test.short)

test-x86-cpus:
	@if [ "$$($(GO) env GOHOSTARCH)" != amd64 ]; then echo "test-x86-cpus: not an amd64 host, skipped"; exit 0; fi; \
	mkdir -p bin && $(GO) test -c -o bin/md6.amd64.test ./md6 && cd md6 && \
	echo "== qemu64 (no AVX2): generic" && \
	AEMP_MD6_WANT_IMPL=generic $(QEMU_X86) -cpu qemu64 ../bin/md6.amd64.test -test.short -test.run 'Dispatch|TestKernels$$' && \
	echo "== max (TCG: AVX2, no AVX-512): avx2" && \
	AEMP_MD6_WANT_IMPL=avx2 $(QEMU_X86) -cpu max ../bin/md6.amd64.test -test.short -test.run 'Dispatch|TestKernels|TestTreeBatching'

test-purego:
	$(GO) vet -tags purego ./md6/...
	$(GO) test -tags purego -short ./md6/...

# generate rewrites the generated assembly of md6/asm; the result is
# committed, and TestGenerated checks that it is up to date.
generate:
	$(GO) generate ./md6/asm

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# bench-compare runs Go and Perl senders and receivers, the net+encoding/json
# baseline and the loopback ceiling on this machine and writes
# bench/RESULTS.md (QUICK=1: a one-minute smoke run; NATS=1 adds NATS).
bench-compare:
	$(GO) run ./bench/cmd/compare

# (./fuzz holds the targets over every parser; framing and engine/mesh add
# differential and state-machine targets next to their code.)
FUZZ_PKGS ?= ./fuzz ./framing ./engine/mesh
fuzz:
	@for p in $(FUZZ_PKGS); do \
		for t in $$($(GO) test $$p -list '^Fuzz' | grep '^Fuzz' | grep -v '^FuzzDiff'); do \
			echo "== $$p $$t ($(FUZZTIME))"; \
			$(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
		done; \
	done

# fuzz-diff runs the differential targets (fuzz/diff_*_test.go: the json,
# storable and cbor codecs against Perl's JSON::XS, Storable and CBOR::XS
# in a Perl process, fuzz/perl/oracle.pl) for FUZZTIME each. Unlike
# go test, which skips them without Perl, it insists on Perl.
fuzz-diff:
	@perl -MJSON::XS -MCBOR::XS -MStorable -e 'printf "oracle: perl %vd, JSON::XS %s, CBOR::XS %s, Storable %s\n", $$^V, $$JSON::XS::VERSION, $$CBOR::XS::VERSION, $$Storable::VERSION' || \
		{ echo "fuzz-diff needs perl with JSON::XS and CBOR::XS (make deps)"; exit 1; }
	@for t in $$($(GO) test ./fuzz -list '^FuzzDiff' | grep '^Fuzz'); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test ./fuzz -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

clean:
	rm -rf bin
