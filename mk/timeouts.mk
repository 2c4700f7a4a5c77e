# Deadlines (issue 10, item 1): the WASI deadline unit test links the WASI
# library, and the guest of tests/e2e/timeouts.sh loops on host calls.
$(BUILD)/tests/test_wasi_deadline: $(BUILD)/obj/tests/unit/test_wasi_deadline.o $(WASI_LIB) $(ENGINE_LIB) | $(TEST_WASM)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# Built with bulk memory so that memset and memcpy are memory.fill/copy.
$(BUILD)/tests/timeouts/hostloop.wasm: tests/timeouts/hostloop.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -mbulk-memory -o $@ $<
all: $(BUILD)/tests/timeouts/hostloop.wasm
