;; WASI calls a guest can loop around, or wait in, for test_wasi.c: each
;; export returns by itself after a few seconds (or when the test unblocks
;; it) so that a host that misses the deadline fails the test instead of
;; hanging it; with the deadline seen they trap within milliseconds.
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (memory (export "memory") 256)      ;; 16 MiB
  (func (export "_start"))
  ;; 50 million clock reads.
  (func (export "clock_loop") (local $i i32)
    (loop $l
      (drop (call $clock (i32.const 1) (i64.const 0) (i32.const 0)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 50000000)))))
  ;; 100,000 writes of 64 KiB to descriptor $fd.
  (func (export "write_loop") (param $fd i32) (local $i i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 65536))
    (loop $l
      (drop (call $write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000)))))
  ;; One read of 16 bytes from stdin.
  (func (export "read_once") (result i32)
    (i32.store (i32.const 0) (i32.const 1024))
    (i32.store (i32.const 4) (i32.const 16))
    (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
  ;; One sleep of $ms milliseconds (a relative monotonic clock subscription).
  (func (export "sleep") (param $ms i32) (result i32)
    (i64.store (i32.const 0) (i64.const 42))                ;; userdata
    (i32.store8 (i32.const 8) (i32.const 0))                ;; clock
    (i32.store (i32.const 16) (i32.const 1))                ;; monotonic
    (i64.store (i32.const 24) (i64.mul (i64.extend_i32_u (local.get $ms)) (i64.const 1000000)))
    (i64.store (i32.const 32) (i64.const 0))                ;; precision
    (i32.store16 (i32.const 40) (i32.const 0))              ;; relative
    (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))
  ;; 100 fills of the whole memory with random bytes.
  (func (export "random_loop") (local $i i32)
    (loop $l
      (drop (call $random (i32.const 0) (i32.const 16777216)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))))
