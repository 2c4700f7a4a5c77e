;; Loops that spend their time outside branches: around a host function and
;; in bulk instructions. Each ends by itself after a few seconds (so that an
;; engine that misses the interrupt fails test_api rather than hanging it);
;; with the interrupt seen they stop within milliseconds.
(module
  (import "env" "tick" (func $tick))
  (memory (export "memory") 64)       ;; 4 MiB
  (table $t 0 funcref)
  (data $seg "0123456789abcdef")
  ;; env.tick forever (tick itself traps after a few seconds).
  (func (export "host_loop")
    (loop $l (call $tick) (br $l)))
  ;; $n fills of the whole memory.
  (func (export "fill_loop") (param $n i32) (local $i i32)
    (loop $l
      (memory.fill (i32.const 0) (i32.const 7) (i32.const 4194304))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  ;; $n overlapping copies of almost the whole memory.
  (func (export "copy_loop") (param $n i32) (local $i i32)
    (loop $l
      (memory.copy (i32.const 1) (i32.const 0) (i32.const 4194303))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  ;; The table grown to 1 Mi entries, then $n fills and copies of it.
  (func (export "table_loop") (param $n i32) (local $i i32)
    (drop (table.grow $t (ref.null func) (i32.const 1048576)))
    (loop $l
      (table.fill $t (i32.const 0) (ref.null func) (i32.const 1048576))
      (table.copy $t $t (i32.const 0) (i32.const 1) (i32.const 1048575))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))))
  ;; Bytes of memory.copy after a fill, for checking overlapping steps:
  ;; fill [0, n) with 0..255 repeating, copy [0, n) to [d, d+n).
  (func (export "pattern_copy") (param $n i32) (param $d i32) (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (local.get $i) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (memory.copy (local.get $d) (i32.const 0) (local.get $n)))
  (func (export "load8") (param $a i32) (result i32) (i32.load8_u (local.get $a)))
  (func (export "init") (memory.init $seg (i32.const 100) (i32.const 0) (i32.const 16)))
  (func (export "table_size") (result i32) (table.size $t)))
