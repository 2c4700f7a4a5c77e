# Example apps (examples/*/app.qyv). Each module is built next to its
# manifest, whose entrypoint names it; *.wasm files are never committed.
EXAMPLE_APPS := examples/hello/hello.wasm examples/files/files.wasm examples/hello-rust/hello-rust.wasm
examples: $(EXAMPLE_APPS)
all: $(EXAMPLE_APPS)

examples/hello/hello.wasm: examples/hello/hello.c | $(BUILD)/wasi-sysroot
	$(WASI_CC) -o $@ $<
examples/files/files.wasm: examples/files/files.c | $(BUILD)/wasi-sysroot
	$(WASI_CC) -o $@ $<
examples/hello-rust/hello-rust.wasm: examples/hello-rust/main.rs
	$(WASI_RUSTC) -o $@ $<
