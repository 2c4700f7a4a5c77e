;; Refused by qv_component_new (tests/unit/test_component.c).
(component (core module (func (result i32) i64.const 0)))
