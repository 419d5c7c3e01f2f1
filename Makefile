# The two commands: `make run` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)

LISTEN ?= 127.0.0.1:8080
DATA_DIR ?= $(CURDIR)/data
JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test test-dev test-asan test-fuzz bench fmt clean

all: build

deps:
	@scripts/install-deps.sh

build: deps
	@cmake --preset release >/dev/null
	@cmake --build --preset release -j $(JOBS)

run: build
	@echo "Starting wagate on http://$(LISTEN) (data in $(DATA_DIR)) with a wasim sandbox; Ctrl-C stops them."
	@exec scripts/run.sh build/release/src/bin $(LISTEN) $(DATA_DIR)

# Every suite: unit, integration and interop tests on the debug build (-Werror), the same
# under ASan + UBSan, then each fuzzer for FUZZ_SECONDS.
test: deps test-dev test-asan test-fuzz
	@echo "make test: all suites passed"

test-dev: deps
	@cmake --preset dev >/dev/null
	@cmake --build --preset dev -j $(JOBS)
	@ctest --preset dev -j $(JOBS) --timeout 900

test-asan: deps
	@cmake --preset asan >/dev/null
	@cmake --build --preset asan -j $(JOBS)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --preset asan -j $(JOBS) --timeout 900

test-fuzz: deps
	@cmake --preset fuzz -DWA_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build --preset fuzz -j $(JOBS)
	@ctest --preset fuzz -j $(JOBS) --timeout 900

bench: build
	@scripts/run-benchmarks.sh

fmt:
	@git ls-files '*.cc' '*.h' | xargs clang-format -i

clean:
	rm -rf build
