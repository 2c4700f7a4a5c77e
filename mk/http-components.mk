# wasi:http components (docs/components.md, "HTTP components"):
# examples/http-component/app.js made a component by componentize-js (npm's
# @bytecodealliance/componentize-js, installed next to jco by
# scripts/deps.sh), against WIT made from jco's own WASI WIT
# (tests/components/http/wit.sh). Without the tool the example is skipped
# with a message, and so are the tests that need it.
COMPONENTIZE_JS ?= $(firstword $(wildcard /opt/qyvol-tools/jco/node_modules/.bin/componentize-js))
JCO_WIT ?= $(dir $(JCO))../@bytecodealliance/jco/lib/wit/builtin/0.2.12
HTTP_JS_COMPONENT := examples/http-component/app.component.wasm
ifneq ($(COMPONENTIZE_JS),)
EXAMPLE_APPS += $(HTTP_JS_COMPONENT)
examples: $(HTTP_JS_COMPONENT)
all: $(HTTP_JS_COMPONENT)
# In build/ whatever BUILD is: the example is one for every build folder.
build/http-wit/world.wit: tests/components/http/world.wit tests/components/http/wit.sh
	tests/components/http/wit.sh $(JCO_WIT) build/http-wit
# componentize-js takes 20-30 s and a few hundred MB: once per change of app.js.
$(HTTP_JS_COMPONENT): examples/http-component/app.js build/http-wit/world.wit
	$(COMPONENTIZE_JS) --wit build/http-wit --world-name handler -o $@ $<
else
examples all: http-component-skipped
.PHONY: http-component-skipped
http-component-skipped:
	@echo "make: componentize-js is not installed (scripts/deps.sh installs it): examples/http-component is not built, and its tests are skipped"
endif

# Hand-written wasi:http handlers (tests/components/http/*.wat, component
# text assembled by jco): a minimal responder, one that traps and one that
# never returns, for tests/e2e/http_components.sh and the per-request bench.
HTTP_WAT_COMPONENTS := $(patsubst tests/components/http/%.wat,$(BUILD)/tests/components/http/%.wasm,\
    $(wildcard tests/components/http/*.wat))
all: $(HTTP_WAT_COMPONENTS)
$(BUILD)/tests/components/http/%.wasm: tests/components/http/%.wat
	@mkdir -p $(dir $@)
	$(JCO) parse $< -o $@

# wasi:http through its API, in one process (tests/unit/test_wasi_http.c).
$(BUILD)/tests/test_wasi_http: $(BUILD)/obj/tests/unit/test_wasi_http.o $(WASI_LIB) $(COMPONENT_LIB) $(ENGINE_LIB) | $(HTTP_WAT_COMPONENTS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl -lcmocka $(LDLIBS)

# Per-request cost in process: a wasi:http component against the WAGI
# module doing the same (docs/components.md, "Numbers").
$(BUILD)/bench/whttp-request: $(call obj,tests/components/http/bench_request.c) $(WASI_LIB) $(COMPONENT_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcurl $(LDLIBS)
.PHONY: bench-whttp
bench-whttp: $(BUILD)/bench/whttp-request $(HTTP_WAT_COMPONENTS) examples/http-hello/hello.wasm
	$(BUILD)/bench/whttp-request examples/http-hello/hello.wasm $(BUILD)/tests/components/http/hello.wasm
