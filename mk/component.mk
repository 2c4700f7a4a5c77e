# The component model (src/component/, API in include/qyvol/component.h):
# decoding, validation, the canonical ABI and instantiation on the engine.
# The WASI 0.2 host (src/wasi/p2_*.c) is part of the WASI library.
COMPONENT_SRC := $(wildcard src/component/*.c)
COMPONENT_LIB := $(BUILD)/libqyvol_component.a

$(COMPONENT_LIB): $(call obj,$(COMPONENT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The canonical ABI's unit tests use the library's internals.
$(BUILD)/tests/test_canon: $(BUILD)/obj/tests/unit/test_canon.o $(COMPONENT_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# Hand-written components (component text format) for the unit tests,
# assembled by jco (`wasm-tools parse`; installed by scripts/deps.sh).
JCO ?= $(firstword $(wildcard /opt/qyvol-tools/jco/node_modules/.bin/jco) jco)
TEST_COMPONENTS := $(patsubst tests/components/wat/%.wat,$(BUILD)/testcomp/%.wasm,$(wildcard tests/components/wat/*.wat)) \
                   $(patsubst tests/components/wat/refused/%.wat,$(BUILD)/testcomp/%.wasm,$(wildcard tests/components/wat/refused/*.wat))
$(BUILD)/testcomp/%.wasm: tests/components/wat/%.wat
	@mkdir -p $(dir $@)
	$(JCO) parse $< -o $@
$(BUILD)/testcomp/%.wasm: tests/components/wat/refused/%.wat
	@mkdir -p $(dir $@)
	$(JCO) parse $< -o $@
all: $(TEST_COMPONENTS)

$(BUILD)/tests/test_component: $(BUILD)/obj/tests/unit/test_component.o $(COMPONENT_LIB) $(ENGINE_LIB) | $(TEST_COMPONENTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# libFuzzer harness for components (clang only), over decoding,
# instantiation against the WASI 0.2 host and running.
$(BUILD)/fuzz/fuzz_component: tests/fuzz/fuzz_component.c $(COMPONENT_SRC) $(WASI_SRC) $(ENGINE_SRC) \
        $(wildcard src/component/*.h src/wasi/*.h src/engine/*.h include/qyvol/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c17 $(CPPFLAGS) $(FUZZ_FLAGS) -o $@ tests/fuzz/fuzz_component.c $(COMPONENT_SRC) $(WASI_SRC) $(ENGINE_SRC) -lcurl $(LDLIBS)
fuzz: $(BUILD)/fuzz/fuzz_component

# The WASI 0.2 host through its API.
$(BUILD)/tests/test_wasip2: $(BUILD)/obj/tests/unit/test_wasip2.o $(WASI_LIB) $(COMPONENT_LIB) $(ENGINE_LIB) | $(TEST_COMPONENTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
