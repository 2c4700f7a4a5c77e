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
