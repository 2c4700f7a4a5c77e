# WASI sandbox tests. tests/wasi/escape/: a guest that tries every way out
# of its pre-opened directories it can think of, a host-side helper that
# races it (swapping a directory and a symlink), and the driver that sets up
# the directories and checks host-side that nothing outside changed
# (tests/wasi/escape/README.md). `make wasi-escape` builds and runs it.
WASI_ESCAPE_WASM := $(BUILD)/tests/wasi/escape.wasm
WASI_ESCAPE_RACER := $(BUILD)/tests/wasi/escape-racer
all: $(WASI_ESCAPE_WASM) $(WASI_ESCAPE_RACER)

$(WASI_ESCAPE_WASM): tests/wasi/escape/escape.c | $(BUILD)/wasi-sysroot
	@mkdir -p $(dir $@)
	$(WASI_CC) -o $@ $<

$(WASI_ESCAPE_RACER): tests/wasi/escape/racer.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=c17 $(OPT) $(WARN) $(LDFLAGS) -o $@ $<

.PHONY: wasi-escape
wasi-escape: $(BUILD)/qyv $(WASI_ESCAPE_WASM) $(WASI_ESCAPE_RACER)
	tests/wasi/escape/run.sh $(BUILD)
