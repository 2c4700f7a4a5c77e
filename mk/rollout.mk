# The guest of the rollout test (tests/e2e/rollout.sh).
ROLLOUT_VERSION_WASM := $(BUILD)/tests/e2e/version.wasm
all: $(ROLLOUT_VERSION_WASM)

$(ROLLOUT_VERSION_WASM): tests/e2e/guests/version.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
