# HTTP example apps (examples/http-*/app.qyv), built next to their manifests.
EXAMPLE_HTTP_APPS := examples/http-hello/hello.wasm examples/http-echo/echo.wasm
examples: $(EXAMPLE_HTTP_APPS)
all: $(EXAMPLE_HTTP_APPS)

examples/http-hello/hello.wasm: examples/http-hello/hello.c | $(BUILD)/wasi-sysroot
	$(WASI_CC) -o $@ $<
examples/http-echo/echo.wasm: examples/http-echo/echo.c | $(BUILD)/wasi-sysroot
	$(WASI_CC) -o $@ $<
EXAMPLE_HTTP_APPS += examples/http-rust/http-rust.wasm
examples: examples/http-rust/http-rust.wasm
all: examples/http-rust/http-rust.wasm
examples/http-rust/http-rust.wasm: examples/http-rust/main.rs
	$(WASI_RUSTC) -o $@ $<
