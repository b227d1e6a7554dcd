# SPDX-License-Identifier: Apache-2.0
# User verbs. The real build is CMake (CMakeLists.txt); this file only drives it.
.POSIX:
.PHONY: all deps build install demo test bench fuzz format check-format tidy clean

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# Tests run two per CPU: most of their time goes to waiting on the services, load tests and test
# clusters they start (those that measure run alone: tests/CMakeLists.txt).
TEST_JOBS ?= $(shell echo $$((2 * $$(nproc 2>/dev/null || echo 1))))
BUILD ?= build/release
TEST_BUILD ?= build/test
PREFIX ?= /usr/local
# OFF: build without the example inference server and its Debian packages (Tesseract, XGBoost).
MP_EXAMPLES ?= ON
export MP_EXAMPLES
FUZZ_BUILD ?= build/fuzz
SOURCES = $(shell git ls-files --cached --others --exclude-standard '*.c' '*.h' 2>/dev/null || find src tests bench examples -name '*.[ch]')

all: build

deps:
	@sh scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMP_EXAMPLES=$(MP_EXAMPLES) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The binary, morphling(1), morphling-spec(5) and the bash completion under $(PREFIX) (DESTDIR
# is honoured).
install: build
	@cmake --install $(BUILD) --prefix $(PREFIX)

demo: build
	@sh scripts/demo.sh $(BUILD)/morphling

test: deps
	cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DMP_WERROR=ON -DMP_SANITIZE=ON \
		-DMP_EXAMPLES=$(MP_EXAMPLES) >/dev/null
	cmake --build $(TEST_BUILD) -j $(JOBS)
	cd $(TEST_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --output-on-failure -j $(TEST_JOBS)
	$(MAKE) --no-print-directory check-format
	$(MAKE) --no-print-directory tidy

bench: build
	@sh bench/run-all.sh $(BUILD)

fuzz: deps
	CC=clang cmake -S . -B $(FUZZ_BUILD) -DMP_FUZZ=ON -DMP_SANITIZE=ON >/dev/null
	cmake --build $(FUZZ_BUILD) -j $(JOBS)
	@sh scripts/fuzz.sh $(FUZZ_BUILD)

# The C sources (clang-format) and the dashboard's (prettier and eslint from npm, installed by
# `make deps`: scripts/check-web.sh).
format:
	clang-format -i $(SOURCES)
	@sh scripts/check-web.sh --fix

check-format:
	@clang-format --dry-run --Werror $(SOURCES) && echo "check-format: ok"
	@sh scripts/check-web.sh

tidy:
	@sh scripts/tidy.sh $(TEST_BUILD)

clean:
	rm -rf build
