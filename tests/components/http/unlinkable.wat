;; A wasi:http handler the host cannot link: it imports a function
;; wasi:http/types does not have. `qyv serve` refuses it when it loads the
;; app (tests/e2e/http_components.sh), not at each request.
(component $C
  (import "wasi:http/types@0.2.0" (instance $http
    (export "incoming-request" (type $incoming-request (sub resource)))
    (export "response-outparam" (type $response-outparam (sub resource)))
    (export "[method]incoming-request.no-such-method" (func (param "self" (borrow $incoming-request))))))
  (alias export $http "incoming-request" (type $incoming-request))
  (alias export $http "response-outparam" (type $response-outparam))
  (core module $main
    (func (export "handle") (param i32 i32)))
  (core instance $main (instantiate $main))
  (type $handle (func (param "request" (own $incoming-request)) (param "response-out" (own $response-outparam))))
  (func $handle (type $handle) (canon lift (core func $main "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $handler))
)
