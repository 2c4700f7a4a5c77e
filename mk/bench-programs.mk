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
