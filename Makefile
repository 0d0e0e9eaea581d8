# aemp-go: an AEMP (AnyEvent::MP transport) node in Go.
#
#   make run        start a node (the main job)
#   make test       vet + all tests with the race detector (what CI runs)
#   make test-long  the same with the big cases at full size
#   make bench      Go benchmarks of every package
#   make fuzz       every fuzz target for FUZZTIME each

GO       ?= go
FUZZTIME ?= 30s
BIN      := bin/aemp
# Debian packages the tests use; installed by 'make deps' when missing.
APT_PKGS ?=

.PHONY: all build run test test-long bench fuzz deps vet clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/aemp

run: build
	./$(BIN) node

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

test: deps vet
	$(GO) test -race -short -timeout 15m ./...
	$(GO) test -timeout 10m ./md6/...

test-long: deps vet
	$(GO) test -race -timeout 60m ./...
	$(GO) test -timeout 30m ./md6/...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

fuzz:
	@for t in $$($(GO) test ./fuzz -list '^Fuzz' | grep '^Fuzz'); do \
		echo "== $$t ($(FUZZTIME))"; \
		$(GO) test ./fuzz -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

clean:
	rm -rf bin
