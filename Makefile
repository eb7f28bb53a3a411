# unitroute: make builds bin/unitgw, bin/unitproxy, bin/unitctl and the
# router library; make test runs every test (also under ASan+UBSan); make demo
# runs the two-unit demo. Both install missing Debian packages first (deps).

CC      ?= cc
PKGS    := libconfig libmicrohttpd libcurl openssl libmariadb
BUILD   ?= build

# Debian packages: to build, to test, to benchmark.
DEB_BUILD := gcc make pkg-config libc6-dev libmicrohttpd-dev libconfig-dev \
             libssl-dev libmariadb-dev libcmocka-dev libcurl4-openssl-dev
DEB_TEST  := mariadb-server mariadb-client curl openssl python3 python3-pymysql \
             python3-cryptography procps iproute2 sysbench
DEB_BENCH := wrk nginx libnginx-mod-http-lua haproxy sysbench

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  := $(shell pkg-config --libs cmocka 2>/dev/null)

WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral
CFLAGS   ?= -O2 -g
CPPFLAGS += -std=c11 -D_GNU_SOURCE -I. $(PKG_CFLAGS)
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) -pthread -MMD -MP
LDFLAGS  += -pthread
LIBS     := $(PKG_LIBS) -lm

# Every component's sources but its main.c go into a static library, so a
# test links against exactly the modules it uses.
ROUTER_SRC  := $(wildcard router/*.c)
GATEWAY_SRC := $(filter-out gateway/main.c,$(wildcard gateway/*.c gateway/*/*.c))
PROXY_SRC   := $(filter-out proxy/main.c,$(wildcard proxy/*.c proxy/*/*.c))
CONTROL_SRC := $(filter-out control/main.c,$(wildcard control/*.c control/*/*.c))
TEST_SRC    := $(wildcard tests/test_*.c)
BENCH_SRC   := $(wildcard tests/bench/*.c)
TOOL_SRC    := $(wildcard tests/tools/*.c)
FUZZ_SRC    := $(wildcard tests/fuzz/fuzz_*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_ROUTER  := $(BUILD)/libunitroute.a
LIB_GATEWAY := $(BUILD)/libgateway.a
LIB_PROXY   := $(BUILD)/libproxy.a
LIB_CONTROL := $(BUILD)/libcontrol.a
COMPONENT_LIBS := $(LIB_GATEWAY) $(LIB_PROXY) $(LIB_CONTROL) $(LIB_ROUTER)

BINDIR ?= bin
BINS  := $(BINDIR)/unitgw $(BINDIR)/unitproxy $(BINDIR)/unitctl
TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRC))
BENCHES := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
TOOLS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
# a fuzz target's main: replay.c (runs corpus files once, for make test), or
# libFuzzer's (make fuzz sets FUZZ_MAIN empty and links -fsanitize=fuzzer)
FUZZ_MAIN ?= $(BUILD)/obj/tests/fuzz/replay.o

.PHONY: all deps deps-bench test test-tsan test-unit test-asan test-integration demo \
        bench bench-router bench-gateway bench-proxy bench-cutover fuzz fuzzers clean
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BINS) $(LIB_ROUTER) $(TOOLS) conf/secret.key conf/control.token

# The rule-signing key of the example configuration: random, mode 600, never
# committed.
conf/secret.key:
	@umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > $@
	@echo "created $@ (rule-signing secret, mode 600)"

# API token of the example control center: random, mode 600, never committed.
conf/control.token:
	@umask 077; head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > $@
	@echo "created $@ (control center API token, mode 600)"

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIB_ROUTER): $(call obj,$(ROUTER_SRC))
$(LIB_GATEWAY): $(call obj,$(GATEWAY_SRC))
$(LIB_PROXY): $(call obj,$(PROXY_SRC))
$(LIB_CONTROL): $(call obj,$(CONTROL_SRC))
$(COMPONENT_LIBS):
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^ $(if $^,,$(BUILD)/obj/empty.o)

$(BUILD)/obj/empty.o:
	@mkdir -p $(dir $@)
	echo 'typedef int ur_empty_unit;' | $(CC) -x c -c - -o $@

$(LIB_GATEWAY) $(LIB_PROXY) $(LIB_CONTROL): | $(BUILD)/obj/empty.o

$(BINDIR)/unitgw: $(BUILD)/obj/gateway/main.o $(LIB_GATEWAY) $(LIB_ROUTER)
$(BINDIR)/unitproxy: $(BUILD)/obj/proxy/main.o $(LIB_PROXY) $(LIB_ROUTER)
$(BINDIR)/unitctl: $(BUILD)/obj/control/main.o $(LIB_CONTROL) $(LIB_ROUTER)
$(BINS):
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(COMPONENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) $(TEST_LIBS) -o $@

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $(COMPONENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(FUZZ_MAIN) $(COMPONENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# A tool is tests/tools/NAME.c plus, if it is larger, tests/tools/NAME/*.c.
.SECONDEXPANSION:
$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o \
                  $$(call obj,$$(wildcard tests/tools/$$*/*.c)) $(COMPONENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LIBS) -o $@

# ---- set-up ----------------------------------------------------------------

# Installs exactly the Debian packages that are missing; runs no apt at all
# when everything is present.
deps:
	@sh tests/harness/install-deps.sh $(DEB_BUILD) $(DEB_TEST)

deps-bench:
	@sh tests/harness/install-deps.sh $(DEB_BUILD) $(DEB_TEST) $(DEB_BENCH)

# ---- tests -------------------------------------------------------------------

test: deps
	@$(MAKE) --no-print-directory all tests
	@$(MAKE) --no-print-directory BUILD=build-asan BINDIR=build-asan/bin \
	    CFLAGS='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    LDFLAGS='-pthread -fsanitize=address,undefined' all tests
	@sh tests/run.sh

tests: $(TESTS) $(BENCHES) $(FUZZERS)

# The multi-threaded integration tests under ThreadSanitizer (not part of
# `make test`: several minutes); any report fails it.
test-tsan: deps
	@$(MAKE) --no-print-directory BUILD=build-tsan BINDIR=build-tsan/bin \
	    CFLAGS='-O1 -g -fsanitize=thread' LDFLAGS='-pthread -fsanitize=thread' all tests
	@sh tests/run-tsan.sh

test-unit: all tests
	@sh tests/run.sh unit

test-integration: all tests
	@sh tests/run.sh integration

# ---- the demo ----------------------------------------------------------------

demo: deps
	@echo "building (make all) ..."
	@$(MAKE) --no-print-directory -s all
	@bash tests/demo/run-demo.sh

# ---- benchmarks ----------------------------------------------------------------

# Every benchmark, then one markdown table (build/bench/report.md).
bench: deps-bench all tests
	@bash tests/bench/bench-all.sh

bench-router: all tests
	@$(BUILD)/bench/bench_router

bench-gateway: deps-bench all tests
	@bash tests/bench/bench-gateway.sh

bench-proxy: deps-bench all tests
	@bash tests/bench/bench-proxy.sh

bench-cutover: all tests
	@bash tests/bench/bench-cutover.sh
	@bash tests/bench/bench-cutover-load.sh

# ---- fuzzing -----------------------------------------------------------------

# Every tests/fuzz/fuzz_NAME.c under libFuzzer (clang, ASan + UBSan) for
# FUZZ_TIME seconds (default 60) each, from tests/fuzz/corpus/NAME; FUZZ_ONLY
# picks targets by name. Not part of make test, which replays the corpora.
FUZZ_TIME ?= 60
fuzz:
	@sh tests/harness/install-deps.sh $(DEB_BUILD) clang
	@$(MAKE) --no-print-directory BUILD=build-fuzz CC=clang FUZZ_MAIN= \
	    CFLAGS='-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    LDFLAGS='-pthread -fsanitize=fuzzer,address,undefined' fuzzers
	@sh tests/fuzz/run-fuzz.sh build-fuzz $(FUZZ_TIME) $(FUZZ_ONLY)

fuzzers: $(FUZZERS)

clean:
	rm -rf build build-asan build-fuzz bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
