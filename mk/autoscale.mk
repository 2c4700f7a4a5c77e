# The guests of the scaling end-to-end tests (tests/e2e/autoscale.sh,
# tests/e2e/scale.sh).
AUTOSCALE_BURN_WASM := $(BUILD)/tests/e2e/burn.wasm
AUTOSCALE_NAP_WASM := $(BUILD)/tests/e2e/nap.wasm
all: $(AUTOSCALE_BURN_WASM) $(AUTOSCALE_NAP_WASM)

$(AUTOSCALE_BURN_WASM) $(AUTOSCALE_NAP_WASM): $(BUILD)/tests/e2e/%.wasm: tests/e2e/guests/%.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
