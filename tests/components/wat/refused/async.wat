;; Refused by qv_component_new (tests/unit/test_component.c).
(component
  (import "f" (func $f))
  (core func (canon lower (func $f) async)))
