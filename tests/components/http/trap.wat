;; A wasi:http handler that traps at once (unreachable): the server answers 500 and the next request gets a fresh instance.
;; Only the two resources handle takes are imported.
(component
  (import "wasi:http/types@0.2.0" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))
  ))
  (alias export $types "incoming-request" (type $incoming-request))
  (alias export $types "response-outparam" (type $response-outparam))
  (core module $m
    (func (export "handle") (param i32 i32) unreachable))
  (core instance $i (instantiate $m))
  (type $handle (func (param "request" (own $incoming-request)) (param "response-out" (own $response-outparam))))
  (func $handle (type $handle) (canon lift (core func $i "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $handler))
)
