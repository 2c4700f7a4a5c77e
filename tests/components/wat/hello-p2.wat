;; A WASI 0.2 command written by hand, as a wasm32-wasip2 toolchain would
;; make one (no preview 1 adapter): it imports interfaces at several 0.2.x
;; versions (matched by semver), writes to stdout through wasi:io/streams
;; and returns from wasi:cli/run. With any argument it exits with an error
;; instead. Run by tests/e2e/components.sh.
(component
  (import "wasi:io/error@0.2.0" (instance $io-error
    (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.3" (instance $streams
    (alias outer 1 $error (type $e))
    (export "error" (type $err (eq $e)))
    (export "output-stream" (type $os (sub resource)))
    (type $se (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $stream-error (eq $se)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result (error $stream-error)))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.1" (instance $stdout
    (alias outer 1 $output-stream (type $o))
    (export "output-stream" (type $os (eq $o)))
    (export "get-stdout" (func (result (own $os))))))
  (import "wasi:cli/environment@0.2.12" (instance $env
    (export "get-arguments" (func (result (list string))))))
  (import "wasi:cli/exit@0.2.0" (instance $exit
    (export "exit" (func (param "status" (result))))))

  (core module $mem
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $p i32)
      global.get $next
      local.get 2 i32.add i32.const 1 i32.sub
      i32.const 0 local.get 2 i32.sub i32.and
      local.tee $p local.get 3 i32.add global.set $next
      local.get $p))
  (core instance $mi (instantiate $mem))
  (alias core export $mi "mem" (core memory $memory))
  (alias core export $mi "realloc" (core func $realloc))

  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower (func $streams "[method]output-stream.blocking-write-and-flush") (memory $memory)))
  (core func $drop (canon resource.drop $output-stream))
  (core func $args (canon lower (func $env "get-arguments") (memory $memory) (realloc $realloc)))
  (core func $exit (canon lower (func $exit "exit")))

  (core module $main
    (import "env" "mem" (memory 1))
    (import "wasi" "get-stdout" (func $get-stdout (result i32)))
    (import "wasi" "write" (func $write (param i32 i32 i32 i32)))
    (import "wasi" "drop" (func $drop (param i32)))
    (import "wasi" "args" (func $args (param i32)))
    (import "wasi" "exit" (func $exit (param i32)))
    (data (i32.const 16) "hello from a hand-written component\n")
    (func (export "run") (result i32)
      (local $out i32)
      ;; With an argument besides the program's name: exit(err).
      i32.const 64 call $args
      i32.const 68 i32.load i32.const 1 i32.gt_u
      if
        i32.const 1 call $exit
        unreachable
      end
      call $get-stdout local.set $out
      local.get $out i32.const 16 i32.const 36 i32.const 96 call $write
      ;; result<_, stream-error>: 0 is ok.
      i32.const 96 i32.load8_u
      if
        unreachable
      end
      local.get $out call $drop
      i32.const 0))
  (core instance $wasi
    (export "get-stdout" (func $get-stdout)) (export "write" (func $write)) (export "drop" (func $drop))
    (export "args" (func $args)) (export "exit" (func $exit)))
  (core instance $m (instantiate $main (with "env" (instance $mi)) (with "wasi" (instance $wasi))))
  (func $run (result (result)) (canon lift (core func $m "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance)))
