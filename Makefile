# The README's two commands: `make demo` and `make test`. Both bootstrap the machine first.
BUILD_DIR ?= build
ASAN_DIR ?= build-asan
FUZZ_DIR ?= build-fuzz
JOBS ?= $(shell nproc)
# CI runs `make test` on a clean clone with an empty ccache and two cores, so its time is mostly
# compiling. Unity builds (UNITY=ON) compile UNITY_BATCH sources of a target as one translation
# unit: the heavy headers (nlohmann/json, GoogleTest, Asio) are parsed, and their templates
# instantiated and optimised, once per batch instead of once per file. For edit-compile loops on
# one file, a fresh build dir with UNITY=OFF recompiles only that file (the flag is read when a
# build dir is configured; CMakeLists.txt lists the sources kept out of batches and why).
UNITY ?= ON
UNITY_BATCH ?= 8
CMAKE_COMMON = -G Ninja -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache \
  -DCMAKE_UNITY_BUILD=$(UNITY) -DCMAKE_UNITY_BUILD_BATCH_SIZE=$(UNITY_BATCH)
FUZZ_SECONDS ?= 10
PREFIX ?= /usr/local

.PHONY: all bootstrap build install package build-asan build-fuzz test test-unit test-asan test-fuzz test-browser demo bench clean format

all: build

bootstrap:
	@scripts/bootstrap

$(BUILD_DIR)/build.ninja:
	cmake -S . -B $(BUILD_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Release

build: bootstrap $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Copies oxide and oxide-delta to $(PREFIX)/bin: `make build`, then `sudo make install` (or
# `make install PREFIX=$$HOME/.local`); DESTDIR is honoured for packaging. It does not build, so
# that sudo leaves no root-owned files in the build tree.
install:
	@test -x $(BUILD_DIR)/oxide-delta || { echo "make install: run 'make build' first" >&2; exit 1; }
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# The .deb (CPack): build/packages/oxide_<version>_<arch>.deb. Not part of `make test` (the
# package_deb test builds its own copy in a temp dir).
package: build
	cd $(BUILD_DIR) && cpack -G DEB

# Without the optional inference component (OXIDE_WITH_INFERENCE=OFF): every `make test` proves
# that the agent and all its tests build and pass without it (issue #11, acceptance 4).
$(ASAN_DIR)/build.ninja:
	cmake -S . -B $(ASAN_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug -DOXIDE_SANITIZE=ON \
	  -DOXIDE_WITH_INFERENCE=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O0 -g1"

# Only what `ctest -LE integration` runs there (the unit-test executables and fuzz replays,
# oxide_unit_tests): the integration tests run in the release build only, so the sanitizer build
# skips the oxide and oxide-delta binaries, serve_main and the benchmarks.
# `make build-asan ASAN_TARGETS=all` builds everything.
ASAN_TARGETS ?= oxide_unit_tests
build-asan: bootstrap $(ASAN_DIR)/build.ninja
	cmake --build $(ASAN_DIR) -j $(JOBS) --target $(ASAN_TARGETS)

$(FUZZ_DIR)/build.ninja:
	cmake -S . -B $(FUZZ_DIR) $(CMAKE_COMMON) -DCMAKE_BUILD_TYPE=Debug \
	  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 -DOXIDE_FUZZ=ON \
	  -DOXIDE_BUILD_TESTS=OFF -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1"

build-fuzz: bootstrap $(FUZZ_DIR)/build.ninja
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target oxide_fuzzers

# Release unit + integration tests, the sanitizer build of the unit tests, then each fuzzer.
test: build build-asan build-fuzz
	scripts/check_format
	scripts/check_includes
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	cd $(ASAN_DIR) && ctest --output-on-failure -j $(JOBS) -LE integration
	scripts/run_fuzzers $(FUZZ_DIR) $(FUZZ_SECONDS)

test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

# Only the dashboard's browser tests (label browser; `make test` runs them too): headless
# Chromium (apt, by bootstrap) and playwright-core (npm ci into the build tree, by CTest).
test-browser: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L browser

demo: build
	scripts/demo $(BUILD_DIR)/oxide

bench: build
	@scripts/bootstrap --bench
	scripts/bench $(BUILD_DIR)/oxide

format:
	clang-format-14 -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(FUZZ_DIR)
