;; Checks the four wasi_unstable functions whose ABI differs from preview 1,
;; with stdin redirected from a 5-byte file. Exits with the file size (5)
;; when all agree, or with 100+N naming the first check that failed.
(module
  (import "wasi_unstable" "fd_seek" (func $seek (param i32 i64 i32 i32) (result i32)))
  (import "wasi_unstable" "fd_filestat_get" (func $stat (param i32 i32) (result i32)))
  (import "wasi_unstable" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func $fail (param i32) (call $exit (i32.add (i32.const 100) (local.get 0))))
  (func (export "_start")
    ;; whence 1 is END in wasi_unstable (CUR in preview 1): position = size.
    (if (call $seek (i32.const 0) (i64.const 0) (i32.const 1) (i32.const 0)) (then (call $fail (i32.const 1))))
    (if (i64.ne (i64.load (i32.const 0)) (i64.const 5)) (then (call $fail (i32.const 2))))
    ;; filestat: size is at offset 24 (32 in preview 1), nlink a u32 at 20.
    (if (call $stat (i32.const 0) (i32.const 64)) (then (call $fail (i32.const 3))))
    (if (i64.ne (i64.load (i32.const 88)) (i64.const 5)) (then (call $fail (i32.const 4))))
    (if (i32.ne (i32.load8_u (i32.const 80)) (i32.const 4)) (then (call $fail (i32.const 5))))
    ;; poll: one relative 1 ms clock subscription in the 56-byte layout
    ;; (userdata@0, tag@8, clock id@24, timeout@32, flags@48).
    (i64.store (i32.const 256) (i64.const 0x1234))
    (i32.store8 (i32.const 264) (i32.const 0))
    (i32.store (i32.const 280) (i32.const 1))
    (i64.store (i32.const 288) (i64.const 1000000))
    (i32.store16 (i32.const 304) (i32.const 0))
    (if (call $poll (i32.const 256) (i32.const 512) (i32.const 1) (i32.const 600)) (then (call $fail (i32.const 6))))
    (if (i32.ne (i32.load (i32.const 600)) (i32.const 1)) (then (call $fail (i32.const 7))))
    (if (i64.ne (i64.load (i32.const 512)) (i64.const 0x1234)) (then (call $fail (i32.const 8))))
    (call $exit (i32.wrap_i64 (i64.load (i32.const 0))))))
