;; Exports wasi:http/incoming-handler and no wasi:cli/run: `qyv run` says
;; what it is (tests/e2e/components.sh).
(component
  (core module $m (func (export "handle")))
  (core instance $i (instantiate $m))
  (func $handle (canon lift (core func $i "handle")))
  (instance $handler (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.3" (instance $handler)))
