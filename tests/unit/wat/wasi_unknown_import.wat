;; Imports a function no host offers: `qyv run` must refuse to start (125)
;; and name the import.
(module
  (import "wasi_snapshot_preview1" "no_such_call" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")))
