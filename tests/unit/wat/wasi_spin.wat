;; A WASI command that never ends: `qyv run --timeout` must stop it (124).
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever br $forever)))
