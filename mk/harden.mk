# Guests of the hardening tests (tests/e2e/harden.sh).
HARDEN_CAT_WASM := $(BUILD)/tests/e2e/cat.wasm
all: $(HARDEN_CAT_WASM)

$(HARDEN_CAT_WASM): tests/e2e/guests/cat.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
