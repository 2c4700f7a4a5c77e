;; Refused by qv_component_new (tests/unit/test_component.c).
(component (type (stream u8)))
