# Herald: the one entry point.
#   make          build build/herald-relay and build/herald.so
#   make test     install what is missing, build, run every suite; ends "N passed, N failed"
#   make demo     install, build, start the relay and a demo page on embedded defaults
# See README.md. Everything is built under build/ (git-ignored).

CC      ?= cc
CLANG   ?= clang
BUILD   := build
PKGS    := libuv msgpack libcrypto jansson inih hiredis
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS  ?= -O2 -g
HR_CFLAGS := -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -Irelay/src -I.
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

RELAY_SRC := $(wildcard relay/src/*/*.c)
LIB_SRC   := $(filter-out relay/src/app/main.c,$(RELAY_SRC))
RELAY_HDR := $(wildcard relay/src/*/*.h) abi/herald_ring_abi.h

OBJ      := $(patsubst relay/src/%.c,$(BUILD)/obj/%.o,$(RELAY_SRC))
LIB_OBJ  := $(patsubst relay/src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
ASAN_OBJ := $(patsubst relay/src/%.c,$(BUILD)/asan/obj/%.o,$(RELAY_SRC))
ASAN_LIB_OBJ := $(patsubst relay/src/%.c,$(BUILD)/asan/obj/%.o,$(LIB_SRC))
FUZZ_LIB_OBJ := $(patsubst relay/src/%.c,$(BUILD)/fuzz/obj/%.o,$(LIB_SRC))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.SECONDARY:
.PHONY: all relay asan unit e2e-helpers fuzz-build test demo deps clean format format-check ext bench check-layers
all: relay ext

relay: $(BUILD)/herald-relay
asan: $(BUILD)/asan/herald-relay

$(BUILD)/obj/%.o: relay/src/%.c $(RELAY_HDR)
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) $(CFLAGS) $(HR_CFLAGS) -c $< -o $@

$(BUILD)/herald-relay: $(OBJ)
	@echo "  CC    $@"
	@$(CC) $(CFLAGS) -o $@ $^ $(PKG_LIBS) -lm

# The same relay with AddressSanitizer + UBSan: the integration suite runs against it once.
$(BUILD)/asan/obj/%.o: relay/src/%.c $(RELAY_HDR)
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O1 -g $(SAN) $(HR_CFLAGS) -c $< -o $@

$(BUILD)/asan/herald-relay: $(ASAN_OBJ)
	@echo "  CC    $@"
	@$(CC) -g $(SAN) -o $@ $^ $(PKG_LIBS) -lm

# Unit tests (cmocka), always under ASan + UBSan; each links the relay's modules it uses.
unit: $(UNIT_BIN)
$(BUILD)/tests/%: tests/unit/%.c $(ASAN_LIB_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O1 -g $(SAN) $(HR_CFLAGS) -Itests/unit -o $@ $< $(ASAN_LIB_OBJ) $(UNIT_EXTRA) $(PKG_LIBS) -lcmocka -lm

# test_ring and test_ingest drive the extension's ring producer (plain C) against the relay.
$(BUILD)/tests/test_ring $(BUILD)/tests/test_ingest: UNIT_EXTRA := $(BUILD)/asan/ext/herald_ring.o
$(BUILD)/tests/test_ring $(BUILD)/tests/test_ingest: $(BUILD)/asan/ext/herald_ring.o
$(BUILD)/asan/ext/herald_ring.o: ext/herald_ring.c ext/herald_ring.h abi/herald_ring_abi.h
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O1 -g $(SAN) -std=c11 -D_GNU_SOURCE $(WARN) -I. -c $< -o $@

# Helpers the e2e tests run (tests/e2e/helpers/): small C programs, no relay code.
E2E_HELPERS := $(patsubst tests/e2e/helpers/%.c,$(BUILD)/tests/%,$(wildcard tests/e2e/helpers/*.c))
e2e-helpers: $(E2E_HELPERS)
$(BUILD)/tests/%: tests/e2e/helpers/%.c
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) -o $@ $<

# libFuzzer harnesses (clang), ASan + UBSan.
fuzz-build: $(FUZZ_BIN)
$(BUILD)/fuzz/obj/%.o: relay/src/%.c $(RELAY_HDR)
	@mkdir -p $(dir $@)
	@echo "  CLANG $@"
	@$(CLANG) -O1 -g -fsanitize=fuzzer-no-link,address,undefined $(HR_CFLAGS) -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  CLANG $@"
	@$(CLANG) -O1 -g -fsanitize=fuzzer,address,undefined $(HR_CFLAGS) -o $@ $< $(FUZZ_LIB_OBJ) $(PKG_LIBS) -lm

# fuzz_reply decodes what the relay answers with the extension's own decoder
# (ext/herald_pack.c), which is built against PHP's headers.
PHP_INCLUDES := $(shell php-config --includes 2>/dev/null)
$(BUILD)/fuzz/fuzz_reply: tests/fuzz/fuzz_reply.c ext/herald_pack.c ext/herald_pack.h $(BUILD)/fuzz/obj/codec/mpscan.o
	@mkdir -p $(dir $@)
	@echo "  CLANG $@"
	@$(CLANG) -O1 -g -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE $(WARN) \
		$(PHP_INCLUDES) $(PKG_CFLAGS) -Iext -Irelay/src -o $@ tests/fuzz/fuzz_reply.c \
		ext/herald_pack.c $(BUILD)/fuzz/obj/codec/mpscan.o $(PKG_LIBS)

-include mk/*.mk

deps:
	@scripts/install-deps.sh

test: deps
	@$(MAKE) --no-print-directory all asan unit e2e-helpers fuzz-build
	@tests/run-all.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

# One style for our C (ext/ follows php-src: tabs, its own .editorconfig).
FORMAT_FILES := $(wildcard relay/src/*/*.[ch] tests/unit/*.[ch] tests/fuzz/*.c tests/e2e/helpers/*.c bench/*.c)
format:
	clang-format -i $(FORMAT_FILES)
format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)

# The relay's layers and the include graph (scripts/check-layers.py): no
# upward or sideways include, no module cycle. Part of make test.
check-layers:
	@python3 scripts/check-layers.py
