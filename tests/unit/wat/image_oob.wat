;; The second segment does not fit in the minimum size: no image, and
;; instantiation traps (tests/unit/test_image.c).
(module
  (memory (export "memory") 1)
  (data (i32.const 10) "fits")
  (data (i32.const 65534) "does not fit"))
