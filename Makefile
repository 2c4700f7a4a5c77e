# Qyvol build. `make` builds build/qyv, build/spectest and the libraries;
# `make check` runs every test (see scripts/test.sh). Variables:
#   CC=clang        another compiler
#   BUILD=dir       output folder (default build)
#   SAN=address     sanitizer build (-fsanitize=address,undefined)
#   OPT=-O0         optimisation flags
#   WERROR=1        warnings are errors
CC ?= cc
BUILD ?= build
OPT ?= -O2
WARN := -Wall -Wextra -Wno-unused-parameter
ifeq ($(WERROR),1)
  WARN += -Werror
endif
VERSION := $(shell cat VERSION)
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Isrc -DQYVOL_VERSION='"$(VERSION)"'
CFLAGS += -std=c17 $(OPT) -g $(WARN) -MMD -MP
ifeq ($(SAN),address)
  CFLAGS += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  LDFLAGS += -fsanitize=address,undefined
endif
LDLIBS += -lm -lpthread

# The interpreter's dispatch must stay one indirect jump per handler: stop
# gcc from merging the handlers' identical tails into a single jump (and
# from turning the short frame set-up loops into memset calls).
IS_CLANG := $(shell $(CC) --version 2>/dev/null | grep -q clang && echo 1)
ifeq ($(IS_CLANG),)
$(BUILD)/obj/src/engine/interp.o: CFLAGS += -fno-gcse -fno-crossjumping -fno-tree-loop-distribute-patterns
endif

ENGINE_SRC := $(wildcard src/engine/*.c)
CLI_SRC := $(wildcard src/cli/*.c) $(wildcard src/app/*.c)
# `qyv node` (src/cluster/node/) links into qyv with the commands.
CLI_SRC += $(wildcard src/cluster/node/*.c)
WASI_SRC := $(wildcard src/wasi/*.c)
SERVE_SRC := $(wildcard src/serve/*.c)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
SPECTEST_SRC := $(wildcard tests/spectest/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
ENGINE_LIB := $(BUILD)/libqyvol_engine.a
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))

TEST_WASM := $(patsubst tests/unit/wat/%.wat,$(BUILD)/testwasm/%.wasm,$(wildcard tests/unit/wat/*.wat))

# The .qyv manifest parser (src/manifest/), built on libyaml.
MANIFEST_SRC := $(wildcard src/manifest/*.c)
MANIFEST_LIB := $(BUILD)/libqyvol_manifest.a
# The WASI preview 1 host (src/wasi/, API in include/qyvol/wasi.h).
WASI_LIB := $(BUILD)/libqyvol_wasi.a
# The cluster's core (src/cluster/): the state store (store.h; links
# -lsqlite3) and the scheduler (scheduler.h). The master, node and API go
# in folders of their own.
# Bundles (bundle.h; -larchive -lcrypto) and the API client (client.h;
# -lcurl -ljansson) live here too.
CLUSTER_SRC := $(wildcard src/cluster/*.c)
CLUSTER_LIBS := -lsqlite3 -larchive -lcurl -lcrypto
CLUSTER_LIB := $(BUILD)/libqyvol_cluster.a

.PHONY: all check clean unit examples fuzz
all: $(BUILD)/qyv $(BUILD)/spectest $(UNIT_BINS) $(TEST_WASM) examples $(MANIFEST_LIB) $(BUILD)/tests/test_manifest
all: $(CLUSTER_LIB) $(BUILD)/bench/scheduler

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(ENGINE_LIB): $(call obj,$(ENGINE_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(WASI_LIB): $(call obj,$(WASI_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(CLUSTER_LIB): $(call obj,$(CLUSTER_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The master (src/cluster/master/), linked into qyv.
MASTER_SRC := $(wildcard src/cluster/master/*.c)
# TLS (src/tls/): the cluster's CA, contexts and the TLS front of the
# HTTP servers (OpenSSL, libevent's OpenSSL bufferevents).
TLS_SRC := $(wildcard src/tls/*.c)
TLS_LIBS := -levent_openssl -lssl -lcrypto
$(BUILD)/qyv: $(call obj,$(CLI_SRC)) $(call obj,$(SERVE_SRC)) $(call obj,$(MASTER_SRC)) $(call obj,$(TLS_SRC)) $(CLUSTER_LIB) $(MANIFEST_LIB) $(WASI_LIB) $(BUILD)/libqyvol_component.a $(ENGINE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -lyaml -levent -levent_pthreads -lhttp_parser -ljansson $(TLS_LIBS) $(CLUSTER_LIBS) $(LDLIBS)

$(BUILD)/spectest: $(call obj,$(SPECTEST_SRC)) $(ENGINE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(ENGINE_LIB) | $(TEST_WASM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# The WASI host's API test links the WASI library before the engine.
$(BUILD)/tests/test_wasi: $(BUILD)/obj/tests/unit/test_wasi.o $(WASI_LIB) $(ENGINE_LIB) | $(TEST_WASM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# The cluster's store and scheduler, tested without processes.
$(BUILD)/tests/test_store: $(BUILD)/obj/tests/unit/test_store.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lsqlite3 -lcurl -ljansson -lcrypto -lcmocka $(LDLIBS)
$(BUILD)/tests/test_scheduler: $(BUILD)/obj/tests/unit/test_scheduler.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
# The autoscaler's decision.
$(BUILD)/tests/test_autoscale: $(BUILD)/obj/tests/unit/test_autoscale.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
# The rollout state machine.
$(BUILD)/tests/test_rollout_plan: $(BUILD)/obj/tests/unit/test_rollout_plan.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lcmocka $(LDLIBS)
# The API client, against a one-connection server on a thread.
$(BUILD)/tests/test_client: $(BUILD)/obj/tests/unit/test_client.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -ljansson -lssl -lcrypto -lcmocka $(LDLIBS)
# The cluster commands' arguments and configuration, without a master.
$(BUILD)/tests/test_cluster_cli: $(BUILD)/obj/tests/unit/test_cluster_cli.o \
    $(call obj,src/cli/cluster_args.c src/cli/cluster_config.c src/cli/cluster_table.c src/cluster/token.c src/cluster/names.c) $(MANIFEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lyaml -lcmocka $(LDLIBS)
# Bundles: packed from manifests (the manifest library), unpacked safely.
$(BUILD)/tests/test_bundle: $(BUILD)/obj/tests/unit/test_bundle.o $(CLUSTER_LIB) $(MANIFEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lyaml -larchive -lcrypto -lcmocka $(LDLIBS)

# Secrets sealed at rest (AES-256-GCM) and their key file.
$(BUILD)/tests/test_secret_box: $(BUILD)/obj/tests/unit/test_secret_box.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcrypto -lcmocka $(LDLIBS)

# The TLS state several masters share in the store, and what a node's
# certificate may name (on SQLite, then etcd when it is installed).
$(BUILD)/tests/test_tls_state: $(BUILD)/obj/tests/unit/test_tls_state.o \
    $(call obj,src/cluster/master/tls_state.c src/cluster/master/tls_sans.c src/tls/pki.c) $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lsqlite3 -lcurl -ljansson -lssl -lcrypto -lcmocka $(LDLIBS)

# A node's routing choices and capacity, tested without sockets.
$(BUILD)/tests/test_route_table: $(BUILD)/obj/tests/unit/test_route_table.o $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson -lcmocka $(LDLIBS)
$(BUILD)/tests/test_capacity: $(BUILD)/obj/tests/unit/test_capacity.o $(CLUSTER_LIB) $(MANIFEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# The serving runtime on its own API (it forks replicas of the echo example).
RUNTIME_TEST_OBJ := $(call obj,$(filter-out src/serve/server.c,$(SERVE_SRC)) $(wildcard src/app/*.c))
$(BUILD)/tests/test_serve_runtime: $(BUILD)/obj/tests/unit/test_serve_runtime.o $(RUNTIME_TEST_OBJ) $(MANIFEST_LIB) $(WASI_LIB) $(BUILD)/libqyvol_component.a $(ENGINE_LIB) | examples
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter-out examples,$^) -lyaml -levent -lhttp_parser -ljansson -lcurl -lcmocka $(LDLIBS)

# The corpus tests read the spec tests' JSON scripts.
$(BUILD)/tests/test_validate_corpus: LDLIBS += -ljansson
$(BUILD)/tests/test_decode_corpus: LDLIBS += -ljansson

# The front <-> replica messages of qyv serve.
$(BUILD)/tests/test_wire: $(call obj,src/serve/wire.c)

# Request targets made safe to route on.
$(BUILD)/tests/test_http_target: $(call obj,src/serve/http_target.c)

# The spec-test runner's value parser is unit-tested on its own.
$(BUILD)/tests/test_spectest_values: $(call obj,tests/spectest/values.c)

# A replica's resource limits, tested on their own (on forked children).
$(BUILD)/tests/test_limits: $(call obj,src/serve/limits.c src/serve/cgroup.c src/serve/throttle.c)

# Test modules are written in the text format and assembled by wabt.
$(BUILD)/testwasm/%.wasm: tests/unit/wat/%.wat
	@mkdir -p $(dir $@)
	wat2wasm --debug-names -o $@ $<

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

check:
	scripts/test.sh

# The fault-injection suite (docs/ha.md): several masters on a 3-member
# etcd under load, each fault in turn, then CHAOS rounds that restart
# every process in random order; and the master's disk full.
CHAOS ?= 20
.PHONY: chaos
chaos: $(BUILD)/qyv examples
	CHAOS=$(CHAOS) tests/e2e/ha.sh $(BUILD)
	tests/e2e/disk_full.sh $(BUILD)

# Only the official spec tests; SHARED is the shared read-only test data.
SHARED ?= ../shared
.PHONY: spectest-run
spectest-run: $(BUILD)/spectest
	$(BUILD)/spectest $(SHARED)/wasm-testsuite/json-core/*.json

# CPU benchmarks (bench/README.md): kernels built to wasm32 with clang and
# natively with gcc; `make bench` builds them and runs bench/run.sh.
WASM_CC ?= clang-19
BENCH_CC ?= gcc
BENCH_KERNELS := $(wildcard bench/kernels/*.c)
BENCH_WASM := $(patsubst bench/kernels/%.c,$(BUILD)/bench/%.wasm,$(BENCH_KERNELS))
BENCH_NATIVE := $(patsubst bench/kernels/%.c,$(BUILD)/bench/native/%,$(BENCH_KERNELS))

$(BUILD)/bench/%.wasm: bench/kernels/%.c bench/kernels/kernel.h
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-unknown-unknown -std=c17 -O2 $(WARN) -nostdlib -fno-builtin \
	  -Wl,--no-entry -Wl,--export=run -o $@ $<

$(BUILD)/bench/native/%: bench/kernels/%.c bench/native_main.c bench/kernels/kernel.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) -std=c17 -O2 $(WARN) -o $@ $< bench/native_main.c -lm

# The cost of an instance per request (bench/README.md, "Instantiation").
$(BUILD)/bench/instantiate: $(call obj,bench/instantiate.c) $(WASI_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench-kernels: $(BUILD)/bench/instantiate

$(BUILD)/bench/runner: $(call obj,bench/runner.c) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

.PHONY: bench bench-kernels bench-http bench-scheduler
bench-kernels: $(BENCH_WASM) $(BENCH_NATIVE)

bench: bench-scheduler
	BUILD=$(BUILD) bench/run.sh

# The scheduler's placements per second (bench/README.md, "Scheduler").
$(BUILD)/bench/scheduler: $(call obj,bench/scheduler.c) $(CLUSTER_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
bench-scheduler: $(BUILD)/bench/scheduler
	$(BUILD)/bench/scheduler

# qyv serve against nginx under wrk (bench/README.md, "HTTP").
bench-http: $(BUILD)/qyv examples
	bench/http/run.sh $(BUILD)

# Example guests, built from source with clang's wasm32 target.
EXAMPLE_WASM := $(BUILD)/examples/fib.wasm
examples: $(EXAMPLE_WASM)
$(BUILD)/examples/%.wasm: examples/demo/%.c
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-unknown-unknown -std=c17 -O2 $(WARN) -nostdlib -fno-builtin \
	  -Wl,--no-entry -o $@ $<

# WASI guests need a sysroot holding only the wasm32-wasi headers and
# libraries: --sysroot=/usr would let host headers leak in.
$(BUILD)/wasi-sysroot:
	@mkdir -p $@/lib
	ln -sfn /usr/include/wasm32-wasi $@/include
	ln -sfn /usr/lib/wasm32-wasi $@/lib/wasm32-wasi

# Compile a C WASI guest: $(WASI_CC) -o out.wasm src.c (order-only prerequisite
# on $(BUILD)/wasi-sysroot). Debian's libc.a carries debug info: strip it.
WASI_CC = $(WASM_CC) --target=wasm32-wasi --sysroot=$(BUILD)/wasi-sysroot -std=c17 -O2 $(WARN) -Wl,--strip-debug
# Compile a Rust WASI guest with Debian's rustc (it has the wasm32 std).
RUSTC ?= /usr/bin/rustc
WASI_RUSTC = $(RUSTC) --target wasm32-wasi -C opt-level=2 -C strip=debuginfo --edition 2021

# libFuzzer harness over decode, validate, instantiate and run (clang only).
FUZZ_CC ?= clang-19
FUZZ_FLAGS := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -g -O1
$(BUILD)/fuzz/fuzz_module: tests/fuzz/fuzz_module.c $(ENGINE_SRC) $(wildcard src/engine/*.h include/qyvol/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_module.c $(ENGINE_SRC) $(LDLIBS)
fuzz: $(BUILD)/fuzz/fuzz_module

# The HTTP front, fed raw client bytes (clang only).
HTTP_FRONT_SRC := src/serve/http1.c src/serve/http_target.c
$(BUILD)/fuzz/fuzz_http: tests/fuzz/fuzz_http.c $(HTTP_FRONT_SRC) src/serve/http1.h src/serve/http_target.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_http.c $(HTTP_FRONT_SRC) -levent -lhttp_parser $(LDLIBS)
fuzz: $(BUILD)/fuzz/fuzz_http

$(MANIFEST_LIB): $(call obj,$(MANIFEST_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# Its tests read tests/manifest/fixtures/ relative to the repository root,
# where scripts/test.sh runs them.
$(BUILD)/tests/test_manifest: $(BUILD)/obj/tests/manifest/test_manifest.o $(MANIFEST_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lyaml -lcmocka $(LDLIBS)

# libFuzzer harness for the manifest parser (clang only).
$(BUILD)/fuzz/fuzz_manifest: tests/manifest/fuzz_manifest.c $(MANIFEST_SRC) $(wildcard src/manifest/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/manifest/fuzz_manifest.c $(MANIFEST_SRC) -lyaml $(LDLIBS)
fuzz: $(BUILD)/fuzz/fuzz_manifest

# The manifest parser's nesting: recipes of nested YAML, parsed in linear time.
$(BUILD)/fuzz/fuzz_manifest_nesting: tests/manifest/fuzz_manifest_nesting.c $(MANIFEST_SRC) $(wildcard src/manifest/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/manifest/fuzz_manifest_nesting.c $(MANIFEST_SRC) -lyaml $(LDLIBS)
fuzz: $(BUILD)/fuzz/fuzz_manifest_nesting

# make install [PREFIX=/usr/local] [DESTDIR=]: qyv, the systemd units
# (contrib/systemd/, with qyv's path filled in) and the docs.
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
.PHONY: install
install: $(BUILD)/qyv
	install -D -m 755 $(BUILD)/qyv $(DESTDIR)$(PREFIX)/bin/qyv
	for u in contrib/systemd/*.service; do \
	    sed 's|@BINDIR@|$(PREFIX)/bin|g' $$u >$(BUILD)/$$(basename $$u) && \
	    install -D -m 644 $(BUILD)/$$(basename $$u) $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	for d in README.md docs/*.md; do install -D -m 644 $$d $(DESTDIR)$(PREFIX)/share/doc/qyvol/$$(basename $$d) || exit 1; done

clean:
	rm -rf build $(EXAMPLE_APPS) $(EXAMPLE_HTTP_APPS)

# Subsystem fragments (examples, WASI tests, ...): each adds its targets to
# `all` with `all: ...`.
include $(sort $(wildcard mk/*.mk))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
