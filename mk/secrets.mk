# The guest of the secrets' end-to-end test (tests/e2e/secrets.sh).
SECRETS_ECHO_WASM := $(BUILD)/tests/e2e/secret_echo.wasm
all: $(SECRETS_ECHO_WASM)

$(SECRETS_ECHO_WASM): tests/e2e/guests/secret_echo.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<
