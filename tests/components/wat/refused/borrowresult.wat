;; Refused by qv_component_new (tests/unit/test_component.c).
(component
  (type $r (resource (rep i32)))
  (type (func (result (borrow $r)))))
