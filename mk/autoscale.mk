# The guest of the autoscaler's end-to-end test (tests/e2e/autoscale.sh).
AUTOSCALE_BURN_WASM := $(BUILD)/tests/e2e/burn.wasm
all: $(AUTOSCALE_BURN_WASM)

$(AUTOSCALE_BURN_WASM): tests/e2e/guests/burn.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
