# edgefleet: the README's two commands, `make demo` and `make test`.
#
# Both install what is missing (scripts/install-deps.sh), configure and build.
# Trees: build/ (GCC, the product), build-asan/ (clang, ASan + UBSan, the
# core's and the parsers' tests and the fuzz targets), build-mcu/ (Cortex-M4F).

JOBS ?= $(shell nproc)
BUILD ?= build
ASAN_BUILD ?= build-asan
WERROR ?= $(if $(CI),ON,OFF)
FUZZ_SECONDS ?= 10

.PHONY: all deps configure build test test-unit test-asan fuzz-smoke mcu demo bench clean

all: build

deps:
	@scripts/install-deps.sh

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEDGEFLEET_WERROR=$(WERROR)

configure: deps $(BUILD)/build.ninja

build: configure
	cmake --build $(BUILD) -j $(JOBS)

$(ASAN_BUILD)/build.ninja:
	CC=clang CXX=clang++ cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DEDGEFLEET_SANITIZE=ON -DEDGEFLEET_FUZZ=ON -DEDGEFLEET_SANITIZED_SUBSET=ON -DEDGEFLEET_WERROR=$(WERROR)

# The core's and every parser's tests under ASan + UBSan, and a bounded fuzz pass.
test-asan: deps $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD) -j $(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure -j $(JOBS)

fuzz-smoke: test-asan
	scripts/fuzz.sh $(ASAN_BUILD) $(FUZZ_SECONDS)

test-unit: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

mcu: build
	scripts/build-mcu.sh $(BUILD)

test: test-unit test-asan fuzz-smoke mcu
	@echo "make test: all suites passed"

demo: build
	scripts/demo.sh $(BUILD)

bench: build
	$(BUILD)/bin/edgefleet-bench-core

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) build-mcu
