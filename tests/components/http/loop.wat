;; A wasi:http handler that loops forever: the request's timeout interrupts it (504).
;; Only the two resources handle takes are imported.
(component
  (import "wasi:http/types@0.2.0" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))
  ))
  (alias export $types "incoming-request" (type $incoming-request))
  (alias export $types "response-outparam" (type $response-outparam))
  (core module $m
    (func (export "handle") (param i32 i32) (loop $forever (br $forever))))
  (core instance $i (instantiate $m))
  (type $handle (func (param "request" (own $incoming-request)) (param "response-out" (own $response-outparam))))
  (func $handle (type $handle) (canon lift (core func $i "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $handler))
)
