;; A component exercising the canonical ABI both ways: its exports are
;; lifted (the host calls them with component values), and they call the
;; host's functions through `canon lower`. Used by tests/unit/test_component.c.
(component
  (import "test:abi/host@1.0.0" (instance $host
    (export "thing" (type $thing (sub resource)))
    (export "echo-string" (func (param "s" string) (result string)))
    (export "sum-many" (func
      (param "a" u64) (param "b" u64) (param "c" u64) (param "d" u64) (param "e" u64) (param "f" u64)
      (param "g" u64) (param "h" u64) (param "i" u64) (param "j" u64) (param "k" u64) (param "l" u64)
      (param "m" u64) (param "n" u64) (param "o" u64) (param "p" u64) (param "q" u64) (result u64)))
    (export "make-thing" (func (param "n" u32) (result (own $thing))))
    (export "thing-value" (func (param "t" (borrow $thing)) (result u32)))
  ))
  (alias export $host "thing" (type $thing))

  ;; Memory and a bump allocator, instantiated first so that the lowered
  ;; imports can use them.
  (core module $mem
    (memory (export "mem") 1)
    (global $next (mut i32) (i32.const 4096))
    ;; realloc(old, old_size, align, size): shrinks in place, grows by
    ;; copying to a fresh block.
    (func (export "realloc") (param $old i32) (param $old_size i32) (param $align i32) (param $size i32) (result i32)
      (local $p i32)
      local.get $old
      if
        local.get $size local.get $old_size i32.le_u
        if
          local.get $old
          return
        end
      end
      global.get $next
      local.get $align i32.add i32.const 1 i32.sub
      i32.const 0 local.get $align i32.sub i32.and
      local.tee $p
      local.get $size i32.add
      global.set $next
      local.get $old
      if
        local.get $p local.get $old local.get $old_size memory.copy
      end
      local.get $p))
  (core instance $mi (instantiate $mem))
  (alias core export $mi "mem" (core memory $memory))
  (alias core export $mi "realloc" (core func $realloc))

  (core func $echo (canon lower (func $host "echo-string") (memory $memory) (realloc $realloc)))
  (core func $echo16 (canon lower (func $host "echo-string") (memory $memory) (realloc $realloc) string-encoding=utf16))
  (core func $sum (canon lower (func $host "sum-many") (memory $memory)))
  (core func $make (canon lower (func $host "make-thing")))
  (core func $value (canon lower (func $host "thing-value")))
  (core func $drop (canon resource.drop $thing))

  ;; A resource of our own.
  (type $counter (resource (rep i32)))
  (core func $cnew (canon resource.new $counter))
  (core func $crep (canon resource.rep $counter))
  (core func $cdrop (canon resource.drop $counter))

  (core module $main
    (import "env" "mem" (memory 1))
    (import "host" "echo" (func $echo (param i32 i32 i32)))
    (import "host" "echo16" (func $echo16 (param i32 i32 i32)))
    (import "host" "sum" (func $sum (param i32) (result i64)))
    (import "host" "make" (func $make (param i32) (result i32)))
    (import "host" "value" (func $value (param i32) (result i32)))
    (import "host" "drop" (func $drop (param i32)))
    (import "host" "cnew" (func $cnew (param i32) (result i32)))
    (import "host" "crep" (func $crep (param i32) (result i32)))
    (import "host" "cdrop" (func $cdrop (param i32)))
    ;; echo(s): the host's echo-string, result through a return area.
    (func (export "echo") (param i32 i32) (result i32)
      local.get 0 local.get 1 i32.const 64 call $echo
      i32.const 64)
    (func (export "echo16") (param i32 i32) (result i32)
      local.get 0 local.get 1 i32.const 64 call $echo16
      i32.const 64)
    ;; sum(): 17 u64 (1..17) passed through memory.
    (func (export "sum") (result i64)
      (local $i i32)
      loop $fill
        i32.const 256 local.get $i i32.const 8 i32.mul i32.add
        local.get $i i32.const 1 i32.add i64.extend_i32_u
        i64.store
        local.get $i i32.const 1 i32.add local.tee $i
        i32.const 17 i32.lt_u br_if $fill
      end
      i32.const 256 call $sum)
    ;; thing(n): make a host thing, read it through a borrow, drop it.
    (func (export "thing") (param i32) (result i32)
      (local $h i32) (local $v i32)
      local.get 0 call $make local.tee $h
      call $value local.set $v
      local.get $h call $drop
      local.get $v)
    (func (export "double-drop")
      (local $h i32)
      i32.const 5 call $make local.tee $h call $drop
      local.get $h call $drop)
    ;; take-thing(borrow<thing>): read it, then drop the borrow as a
    ;; callee must; keep-thing forgets to.
    (func (export "take-thing") (param i32) (result i32)
      (local $v i32)
      local.get 0 call $value local.set $v
      local.get 0 call $drop
      local.get $v)
    (func (export "keep-thing") (param i32) (result i32)
      local.get 0 call $value)
    (func (export "forged") (result i32)
      i32.const 77 call $value)
    (func (export "bad-string") (result i32)
      i32.const 65530 i32.const 100 i32.const 64 call $echo
      i32.const 64)
    (func (export "bad-retptr") (result i32)
      i32.const 0 i32.const 0 i32.const 66 call $echo
      i32.const 64)
    (func (export "counter") (result i32)
      (local $h i32) (local $r i32)
      i32.const 42 call $cnew local.tee $h
      call $crep local.set $r
      local.get $h call $cdrop
      local.get $r)
    ;; greet(): "hi there" from memory; its post-return wipes the bytes
    ;; (as a free would) and counts its calls.
    (global $posts (mut i32) (i32.const 0))
    (func (export "greet") (result i32)
      i32.const 512 i64.const 0x6572656874206968 i64.store ;; "hi there"
      i32.const 96 i32.const 512 i32.store
      i32.const 100 i32.const 8 i32.store
      i32.const 96)
    (func (export "greet-post") (param i32)
      i32.const 512 i64.const 0 i64.store
      global.get $posts i32.const 1 i32.add global.set $posts)
    (func (export "posts") (result i32) global.get $posts)
    ;; Returns a string whose bytes are not UTF-8.
    (func (export "bad-utf8") (result i32)
      i32.const 128 i32.const 0xFF i32.store8
      i32.const 64 i32.const 128 i32.store
      i32.const 68 i32.const 1 i32.store
      i32.const 64)
  )
  (core instance $hostcore
    (export "echo" (func $echo)) (export "echo16" (func $echo16)) (export "sum" (func $sum))
    (export "make" (func $make)) (export "value" (func $value)) (export "drop" (func $drop))
    (export "cnew" (func $cnew)) (export "crep" (func $crep)) (export "cdrop" (func $cdrop)))
  (core instance $m (instantiate $main (with "env" (instance $mi)) (with "host" (instance $hostcore))))

  (func $f-echo (param "s" string) (result string) (canon lift (core func $m "echo") (memory $memory) (realloc $realloc)))
  (func $f-echo16 (param "s" string) (result string)
    (canon lift (core func $m "echo16") (memory $memory) (realloc $realloc) string-encoding=utf16))
  (func $f-sum (result u64) (canon lift (core func $m "sum")))
  (func $f-thing (param "n" u32) (result u32) (canon lift (core func $m "thing")))
  (func $f-double-drop (canon lift (core func $m "double-drop")))
  (func $f-forged (result u32) (canon lift (core func $m "forged")))
  (func $f-take-thing (param "t" (borrow $thing)) (result u32) (canon lift (core func $m "take-thing")))
  (func $f-keep-thing (param "t" (borrow $thing)) (result u32) (canon lift (core func $m "keep-thing")))
  (func $f-bad-string (result string) (canon lift (core func $m "bad-string") (memory $memory) (realloc $realloc)))
  (func $f-bad-retptr (result string) (canon lift (core func $m "bad-retptr") (memory $memory) (realloc $realloc)))
  (func $f-counter (result u32) (canon lift (core func $m "counter")))
  (func $f-greet (result string)
    (canon lift (core func $m "greet") (memory $memory) (realloc $realloc) (post-return (core func $m "greet-post"))))
  (func $f-posts (result u32) (canon lift (core func $m "posts")))
  (func $f-bad-utf8 (result string) (canon lift (core func $m "bad-utf8") (memory $memory)))

  ;; Exports go through a nested component, as wit-component makes them.
  (component $shim
    (import "echo" (func $e (param "s" string) (result string)))
    (export "echo" (func $e)))
  (instance $api (instantiate $shim (with "echo" (func $f-echo))))
  (export "test:abi/api@1.0.0" (instance $api))
  (export "echo16" (func $f-echo16))
  (export "sum" (func $f-sum))
  (export "thing" (func $f-thing))
  (export "double-drop" (func $f-double-drop))
  (export "forged" (func $f-forged))
  (export "take-thing" (func $f-take-thing))
  (export "keep-thing" (func $f-keep-thing))
  (export "bad-string" (func $f-bad-string))
  (export "bad-retptr" (func $f-bad-retptr))
  (export "counter" (func $f-counter))
  (export "greet" (func $f-greet))
  (export "posts" (func $f-posts))
  (export "bad-utf8" (func $f-bad-utf8))
)
