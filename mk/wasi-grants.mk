# tests/wasi/grants: a guest checking the manifest's map-form grants.
$(BUILD)/tests/wasi/grants.wasm: tests/wasi/grants/grants.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
all: $(BUILD)/tests/wasi/grants.wasm
