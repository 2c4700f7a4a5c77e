;; Writes 64 KiB at a time to stdout until a write fails (at most 256 MiB),
;; then the same to stderr, and exits with the errno of stdout's failed
;; write, else stderr's (0 if none failed): a guest trying to make its host
;; buffer unbounded output, or writing into a closed pipe
;; (tests/unit/test_wasi.c, tests/e2e/harden.sh).
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 2)
  ;; iovec at 0: 64 KiB from 65536 (the second page, zeros).
  (data (i32.const 0) "\00\00\01\00\00\00\01\00")
  (func $spew (param $fd i32) (result i32)
    (local $n i32) (local $err i32)
    (block $done
      (loop $again
        (local.set $err (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 16)))
        (br_if $done (local.get $err))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $again (i32.lt_u (local.get $n) (i32.const 4096)))))
    (local.get $err))
  (func (export "_start")
    (local $out i32) (local $err i32)
    (local.set $out (call $spew (i32.const 1)))
    (local.set $err (call $spew (i32.const 2)))
    (call $exit (select (local.get $out) (local.get $err) (local.get $out)))))
