;; Refused by qv_component_new (tests/unit/test_component.c).
(component
  (type $t u8)
  (export "a" (type $t))
  (export "a" (type $t)))
