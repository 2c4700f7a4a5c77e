# The component example (examples/hello-component): main.rs compiled to a
# core module in the build folder, wrapped by jco into the component the
# manifest names.
EXAMPLE_APPS += examples/hello-component/app.component.wasm
examples: examples/hello-component/app.component.wasm
all: examples/hello-component/app.component.wasm

$(BUILD)/examples/hello-component.wasm: examples/hello-component/main.rs
	@mkdir -p $(dir $@)
	$(WASI_RUSTC) -o $@ $<
examples/hello-component/app.component.wasm: $(BUILD)/examples/hello-component.wasm
	$(JCO) new $< --wasi-command -o $@
