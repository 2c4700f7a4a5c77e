;; Exits with a number describing what it saw, for test_wasi.c:
;;   argc * 1000 + environ count * 100 + (errno of fd_read on fd 0)
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envs (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $status i32)
    (drop (call $args (i32.const 0) (i32.const 4)))
    (drop (call $envs (i32.const 8) (i32.const 12)))
    ;; one iovec {buf = 64, len = 16} at 32
    (i32.store (i32.const 32) (i32.const 64))
    (i32.store (i32.const 36) (i32.const 16))
    (local.set $status (call $read (i32.const 0) (i32.const 32) (i32.const 1) (i32.const 48)))
    (call $exit (i32.add (i32.add
        (i32.mul (i32.load (i32.const 0)) (i32.const 1000))
        (i32.mul (i32.load (i32.const 8)) (i32.const 100)))
        (local.get $status)))))
