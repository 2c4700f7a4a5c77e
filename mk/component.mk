# The component model (src/component/, API in include/qyvol/component.h):
# decoding, validation, the canonical ABI and instantiation on the engine.
# The WASI 0.2 host (src/wasi/p2_*.c) is part of the WASI library.
COMPONENT_SRC := $(wildcard src/component/*.c)
COMPONENT_LIB := $(BUILD)/libqyvol_component.a

$(COMPONENT_LIB): $(call obj,$(COMPONENT_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The canonical ABI's unit tests use the library's internals.
$(BUILD)/tests/test_canon: $(BUILD)/obj/tests/unit/test_canon.o $(COMPONENT_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)
