;; A WASI command whose _start traps two calls deep: `qyv run` must exit 134
;; and print the trap with its backtrace.
(module
  (memory (export "memory") 1)
  (func $inner unreachable)
  (func $outer call $inner)
  (func (export "_start") call $outer))
