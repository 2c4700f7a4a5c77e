# build/wasitest: the runner of the official WASI test suite (tests/wasitest).
WASITEST_SRC := $(wildcard tests/wasitest/*.c)
$(BUILD)/wasitest: $(call obj,$(WASITEST_SRC))
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson $(LDLIBS)
all: $(BUILD)/wasitest

.PHONY: wasitest-run
wasitest-run: $(BUILD)/wasitest $(BUILD)/qyv
	$(BUILD)/wasitest $(SHARED)/wasi-testsuite/tests/c/testsuite/wasm32-wasip1 \
	  $(SHARED)/wasi-testsuite/tests/rust/testsuite/wasm32-wasip1 \
	  $(SHARED)/wasi-testsuite/tests/assemblyscript/testsuite/wasm32-wasip1
