;; A segment placed by an imported global: no image, the segments are
;; replayed per instance (tests/unit/test_image.c).
(module
  (import "env" "base" (global $base i32))
  (memory (export "memory") 1)
  (data (i32.const 10) "first")
  (data (global.get $base) "second"))
