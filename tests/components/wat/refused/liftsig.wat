;; Refused by qv_component_new (tests/unit/test_component.c).
(component
  (core module $m (func (export "f") (param i64)))
  (core instance $i (instantiate $m))
  (func (param "x" u32) (canon lift (core func $i "f"))))
