# shoal's entry points. `make test` and `make demo` work on a fresh Debian 12
# machine with nothing but this repository: both install what is missing.
BUILD_DIR ?= build
JOBS ?= 2
CMAKE_FLAGS ?=

.PHONY: all deps configure build test sanitize stress demo bench clean

all: build

deps:
	@bash scripts/install_deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j$(JOBS)

# The whole suite through ctest, clang's thread-safety analysis over every
# annotated translation unit (LibTorch ones included), then the sanitizer
# builds and fuzzers.
test: build
	@cd $(BUILD_DIR) && ctest --output-on-failure -j$(JOBS) --timeout 600
	@JOBS=$(JOBS) python3 scripts/check_thread_safety.py $(BUILD_DIR)
	@JOBS=$(JOBS) bash scripts/check_sanitizers.sh $(BUILD_DIR)-sanitize

# The sanitizer builds and the fuzzers alone (scripts/check_sanitizers.sh,
# in $(BUILD_DIR)-sanitize): ASan+UBSan unit tests of common/ and replay/,
# every fuzzer for 30 s, ThreadSanitizer concurrency tests.
sanitize: deps
	@JOBS=$(JOBS) bash scripts/check_sanitizers.sh $(BUILD_DIR)-sanitize

# The flakiness hunt (scripts/stress.sh; not part of `make test`): every
# concurrency, integration and fault test repeated until it fails, 20 times
# by default, beside a CPU load. STRESS_REPEAT=N, STRESS_LOAD=0 to run bare.
stress: build
	@bash scripts/stress.sh $(BUILD_DIR)

# The main job (see README "Running").
demo: build
	@bash scripts/demo.sh $(BUILD_DIR)

# Benchmarks print JSON lines (see README "Benchmarks").
bench: build
	@bash scripts/bench.sh $(BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
