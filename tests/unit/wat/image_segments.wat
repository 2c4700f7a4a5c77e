;; Data segments for the prepared memory image (tests/unit/test_image.c):
;; overlapping and nearby segments (one run), one far away (a second run),
;; a passive segment that memory.init can still copy, and active segments
;; that are dropped after instantiation.
(module
  (memory (export "memory") 2)
  (data (i32.const 100) "aaaaaaaa")       ;; 100..107
  (data (i32.const 104) "BB")             ;; overwrites 104, 105
  (data (i32.const 300) "near")           ;; within the merge gap of the first
  (data "passive!")                        ;; segment 3
  (data (i32.const 70000) "far")          ;; a run of its own
  (data (i32.const 0) "")                 ;; empty, in bounds
  (func (export "init_passive") (param $dst i32)
    (memory.init 3 (local.get $dst) (i32.const 0) (i32.const 8)))
  (func (export "init_active")
    (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 1))))
