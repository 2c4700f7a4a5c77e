;; Refused by qv_component_new (tests/unit/test_component.c).
(component (import "v" (value u32)))
