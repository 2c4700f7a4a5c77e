# Command components for the end-to-end tests (tests/e2e/components.sh):
# C and Rust WASI programs compiled to core modules, then wrapped by jco
# with its WASI preview 1 adapter into WASI 0.2 command components, the way
# users without a wasm32-wasip2 toolchain make them.
COMPONENT_GUESTS := $(BUILD)/tests/components/cmd.wasm $(BUILD)/tests/components/cmd.component.wasm \
                    $(BUILD)/tests/components/hello-rust.wasm $(BUILD)/tests/components/hello-rust.component.wasm
all: $(COMPONENT_GUESTS)

$(BUILD)/tests/components/cmd.wasm: tests/components/guests/cmd.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -D_DEFAULT_SOURCE -o $@ $<
$(BUILD)/tests/components/hello-rust.wasm: tests/components/guests/hello.rs
	@mkdir -p $(dir $@)
	$(WASI_RUSTC) -o $@ $<
$(BUILD)/tests/components/%.component.wasm: $(BUILD)/tests/components/%.wasm
	$(JCO) new $< --wasi-command -o $@

# The sandbox escape suite's guest as a component (tests/wasi/escape/run.sh
# with ESCAPE_WASM).
$(BUILD)/tests/wasi/escape.component.wasm: $(BUILD)/tests/wasi/escape.wasm
	$(JCO) new $< --wasi-command -o $@
all: $(BUILD)/tests/wasi/escape.component.wasm

# The official WASI test suite's programs as components (scripts/
# wasitest-components.sh runs build/wasitest on them): each core module of
# the shared suite wrapped by jco, next to links to its specification and
# fixtures. Built on demand (`make wasi-components`), not by `all`.
WASI_SUITE := $(SHARED)/wasi-testsuite/tests
WASI_SUITE_COMPONENTS := $(patsubst $(WASI_SUITE)/%,$(BUILD)/wasi-components/%,\
    $(wildcard $(WASI_SUITE)/*/testsuite/wasm32-wasip1/*.wasm))
$(BUILD)/wasi-components/%.wasm: $(WASI_SUITE)/%.wasm
	@mkdir -p $(dir $@)
	$(JCO) new $< --wasi-command -o $@
.PHONY: wasi-components
wasi-components: $(WASI_SUITE_COMPONENTS)

# In-process cost of a component against the same program as a module
# (docs/components.md, "Numbers").
$(BUILD)/bench/component-load: $(call obj,tests/components/bench_load.c) $(WASI_LIB) $(BUILD)/libqyvol_component.a $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
.PHONY: bench-components
bench-components: $(BUILD)/bench/component-load $(COMPONENT_GUESTS)
	$(BUILD)/bench/component-load $(BUILD)/tests/components/cmd.wasm $(BUILD)/tests/components/cmd.component.wasm
	$(BUILD)/bench/component-load $(BUILD)/tests/components/hello-rust.wasm $(BUILD)/tests/components/hello-rust.component.wasm

# The manifest-grants guest as a component (tests/wasi/grants/run.sh with
# GRANTS_WASM).
$(BUILD)/tests/wasi/grants.component.wasm: $(BUILD)/tests/wasi/grants.wasm
	$(JCO) new $< --wasi-command -o $@
all: $(BUILD)/tests/wasi/grants.component.wasm

# The deadlines suite's guest as a component (tests/e2e/timeouts.sh): its
# sleeps, polls and pipe reads go through wasi:io and wasi:clocks.
$(BUILD)/tests/timeouts/hostloop.component.wasm: $(BUILD)/tests/timeouts/hostloop.wasm
	$(JCO) new $< --wasi-command -o $@
all: $(BUILD)/tests/timeouts/hostloop.component.wasm
