# Larger benchmark programs (bench/programs/, bench/README.md): built like
# the kernels, freestanding, to wasm32 with clang and natively with gcc.
BENCH_PROGRAMS := $(wildcard bench/programs/*.c)
BENCH_PROGRAM_WASM := $(patsubst bench/programs/%.c,$(BUILD)/bench/%.wasm,$(BENCH_PROGRAMS))
BENCH_PROGRAM_NATIVE := $(patsubst bench/programs/%.c,$(BUILD)/bench/native/%,$(BENCH_PROGRAMS))

$(BUILD)/bench/%.wasm: bench/programs/%.c bench/kernels/kernel.h
	@mkdir -p $(dir $@)
	$(WASM_CC) --target=wasm32-unknown-unknown -std=c17 -O2 $(WARN) -nostdlib -fno-builtin \
	  -Wl,--no-entry -Wl,--export=run -o $@ $<

$(BUILD)/bench/native/%: bench/programs/%.c bench/native_main.c bench/kernels/kernel.h
	@mkdir -p $(dir $@)
	$(BENCH_CC) -std=c17 -O2 $(WARN) -o $@ $< bench/native_main.c -lm

bench-kernels: $(BENCH_PROGRAM_WASM) $(BENCH_PROGRAM_NATIVE)

# Rust WASI commands (bench/rust/), and their native builds.
BENCH_RUST := $(wildcard bench/rust/*.rs)
BENCH_RUST_WASM := $(patsubst bench/rust/%.rs,$(BUILD)/bench/%.wasm,$(BENCH_RUST))
BENCH_RUST_NATIVE := $(patsubst bench/rust/%.rs,$(BUILD)/bench/native/%,$(BENCH_RUST))

$(BUILD)/bench/%.wasm: bench/rust/%.rs
	@mkdir -p $(dir $@)
	$(WASI_RUSTC) -o $@ $<

$(BUILD)/bench/native/%: bench/rust/%.rs
	@mkdir -p $(dir $@)
	$(RUSTC) -C opt-level=2 --edition 2021 -o $@ $<

bench-kernels: $(BENCH_RUST_WASM) $(BENCH_RUST_NATIVE)
