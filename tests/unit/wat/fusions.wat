;; Code shapes that the translator fuses into one instruction (translate.c,
;; docs/engine.md), for test_fusions.c: each must compute what the
;; instructions it stands for compute, traps included.
(module
  (memory (export "memory") 1)
  (data (i32.const 16) "  hello \"world\"")
  (data (i32.const 64) "\01\00\00\00\02\00\00\00\03\00\00\00\04\00\00\00\05\00\00\00")
  ;; a linked list: nodes of (next, value) at 128, 136, 144
  (data (i32.const 128) "\88\00\00\00\07\00\00\00\90\00\00\00\08\00\00\00\00\00\00\00\09\00\00\00")
  ;; pointers: at 160 to 168 (a word 0x0080fffe), at 176 past the memory
  (data (i32.const 160) "\a8\00\00\00\00\00\00\00\fe\ff\80\00\00\00\00\00\f0\ff\ff\ff")
  ;; i32.load / i32.store of base + index (_aa forms); the sum wraps at 32 bits
  (func (export "load_sum") (param $b i32) (param $i i32) (result i32)
    (i32.load (i32.add (local.get $b) (local.get $i))))
  (func (export "store_sum") (param $b i32) (param $i i32) (param $v i32) (result i32)
    (i32.store offset=4 (i32.add (local.get $b) (local.get $i)) (local.get $v))
    (i32.load offset=4 (i32.add (local.get $b) (local.get $i))))
  ;; increment then compare-and-branch (add_br_if_*): counts to $n
  (func (export "count_to") (param $n i32) (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.ne (local.get $i) (local.get $n))))
    (local.get $i))
  (func (export "count_by_3_below") (result i32) (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 3)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))
    (local.get $i))
  ;; *p = *p + k (i32_store_add_imm)
  (func (export "bump") (param $p i32) (result i32)
    (i32.store (local.get $p) (i32.add (i32.load (local.get $p)) (i32.const 7)))
    (i32.load (local.get $p)))
  ;; scanning bytes (load8u_br_if_eq_imm / ne_imm): index of the first '"'
  ;; after the spaces at 16; the byte is still returned through a local
  (func (export "skip_spaces") (result i32) (local $p i32) (local $c i32)
    (local.set $p (i32.const 16))
    (block $done
      (loop $l
        (br_if $done (i32.ne (local.tee $c (i32.load8_u (local.get $p))) (i32.const 32)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $c)))
  (func (export "find_quote") (result i32) (local $p i32)
    (local.set $p (i32.const 16))
    (block $done
      (loop $l
        (br_if $done (i32.eq (i32.load8_u (local.get $p)) (i32.const 34)))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $l)))
    (local.get $p))
  (func (export "byte_at") (param $p i32) (result i32)
    (block $yes
      (br_if $yes (i32.eq (i32.load8_u offset=1 (local.get $p)) (i32.const 104)))
      (return (i32.const 0)))
    (i32.const 1))
  ;; f64 stores of a computed value, and load-add-store both ways
  (func (export "f64_ops") (param $x f64) (param $y f64) (result f64)
    (f64.store (i32.const 200) (f64.add (local.get $x) (local.get $y)))
    (f64.store (i32.const 208) (f64.sub (local.get $x) (local.get $y)))
    (f64.store (i32.const 216) (f64.mul (local.get $x) (local.get $y)))
    (f64.add (f64.add (f64.load (i32.const 200)) (f64.mul (f64.load (i32.const 208)) (f64.const 10)))
             (f64.mul (f64.load (i32.const 216)) (f64.const 100))))
  (func (export "accumulate") (param $y f64) (result f64) (local $old f64)
    (f64.store (i32.const 300) (f64.const 1.5))
    (f64.store (i32.const 308) (f64.add (local.tee $old (f64.load (i32.const 300))) (local.get $y)))
    (f64.store (i32.const 316) (f64.add (local.get $y) (f64.load (i32.const 308))))
    (f64.add (f64.mul (f64.load (i32.const 316)) (f64.const 1000)) (local.get $old)))
  ;; a loop whose first instruction is an increment, entered again by br
  ;; (i32_add_imm_br)
  (func (export "loop_br") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $out
      (loop $l
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (local.set $s (i32.add (local.get $s) (local.get $i)))
        (br_if $out (i32.ge_u (local.get $i) (local.get $n)))
        (br $l)))
    (local.get $s))
  ;; fib(n - 1) + fib(n - 2): increments that are call arguments
  ;; (i32_add_imm_call) and a returned sum (i32_add_return1)
  (func $fib (export "fib") (param $n i32) (result i32)
    (if (i32.lt_u (local.get $n) (i32.const 2)) (then (return (local.get $n))))
    (i32.add (call $fib (i32.add (local.get $n) (i32.const -1)))
             (call $fib (i32.add (local.get $n) (i32.const -2)))))
  ;; two arguments, the increment computing the second one
  (func $diff (param $a i32) (param $b i32) (result i32)
    (i32.sub (local.get $a) (local.get $b)))
  (func (export "call_second_arg") (param $a i32) (param $b i32) (result i32)
    (call $diff (i32.sub (local.get $a) (local.get $b)) (i32.add (local.get $a) (i32.const 7))))
  ;; a byte loaded and scaled, r[i->a] (i32_load8_u_shl_imm; the shift
  ;; count is taken modulo 32); then one also kept in a local
  (func (export "byte_scaled") (param $p i32) (result i32)
    (i32.store8 (i32.const 500) (i32.const 255))
    (i32.shl (i32.load8_u offset=3 (local.get $p)) (i32.const 34)))
  (func (export "byte_scaled_kept") (param $p i32) (result i32) (local $x i32)
    (i32.store8 (i32.const 500) (i32.const 200))
    (i32.add (i32.mul (i32.shl (local.tee $x (i32.load8_u offset=3 (local.get $p))) (i32.const 2))
                      (i32.const 1000))
             (local.get $x)))
  ;; p = q = p + 4 (i32_add_imm_copy), then x = *(p += 4) (i32_add_imm_load)
  (func (export "two_locals") (param $p i32) (result i32) (local $q i32)
    (local.set $p (local.tee $q (i32.add (local.get $p) (i32.const 4))))
    (i32.add (i32.mul (local.get $p) (i32.const 1000)) (local.get $q)))
  (func (export "sum_array") (result i32) (local $p i32) (local $s i32) (local $x i32)
    (local.set $p (i32.const 60))
    (loop $l
      (local.set $x (i32.load (local.tee $p (i32.add (local.get $p) (i32.const 4)))))
      (local.set $s (i32.add (local.get $s) (local.get $x)))
      (br_if $l (i32.lt_u (local.get $p) (i32.const 80))))
    (i32.add (i32.mul (local.get $s) (i32.const 1000)) (local.get $p)))
  (func (export "load_after_increment") (param $p i32) (result i32)
    (i32.load (local.tee $p (i32.add (local.get $p) (i32.const 4)))))
  ;; zeros stored to locals: elided only while the local surely holds zero
  (func (export "zeros") (param $n i32) (result i32) (local $a i32) (local $b i32)
    (local.set $a (i32.const 0))
    (local.set $b (i32.const 5))
    (local.set $b (i32.const 0))
    (loop $l
      (local.set $a (i32.add (local.get $a) (i32.const 2)))
      (br_if $l (i32.lt_u (local.get $a) (local.get $n))))
    (local.set $a (i32.const 0))
    (i32.add (i32.mul (local.get $a) (i32.const 100)) (local.get $b)))
  ;; a post-increment, `q = p++` (i32_copy_add_imm), at the start of a loop
  ;; entered again by br (i32_copy_add_imm_br): counts the bytes before the
  ;; first zero at p
  (func (export "post_increment") (param $p i32) (result i32) (local $q i32) (local $n i32)
    (loop $l
      (local.set $p (i32.add (local.tee $q (local.get $p)) (i32.const 1)))
      (if (i32.load8_u (local.get $q))
        (then (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $l))))
    (i32.add (i32.mul (local.get $n) (i32.const 1000)) (i32.sub (local.get $p) (local.get $q))))
  ;; the sum written over the copy it was made from: q = p, then q = q + 5
  (func (export "post_increment_same") (param $p i32) (result i32) (local $q i32)
    (local.set $q (i32.add (local.tee $q (local.get $p)) (i32.const 5)))
    (i32.add (i32.mul (local.get $q) (i32.const 1000)) (local.get $p)))
  ;; FNV-1a's step, h = (h ^ c) * 16777619 (i32_xor_mul_imm); not when the
  ;; xor is kept in a local as well
  (func (export "fnv_step") (param $h i32) (param $c i32) (result i32)
    (i32.mul (i32.xor (local.get $h) (local.get $c)) (i32.const 16777619)))
  (func (export "xor_kept") (param $a i32) (param $b i32) (result i32) (local $t i32)
    (i32.add (i32.mul (local.tee $t (i32.xor (local.get $a) (local.get $b))) (i32.const 3)) (local.get $t)))
  ;; a bit field, (x >> k) & m (i32_shr_u_and_imm); the shift counts mod 32
  (func (export "bit_field") (param $x i32) (result i32)
    (i32.add (i32.mul (i32.and (i32.shr_u (local.get $x) (i32.const 4)) (i32.const 255)) (i32.const 1000))
             (i32.and (i32.shr_u (local.get $x) (i32.const 35)) (i32.const 7))))
  ;; a bit-serial CRC-16 (0xA001) of the low byte of $d: the bit field and a
  ;; select on a low bit (select_and_imm), as clang emits them
  (func (export "crc_byte") (param $c i32) (param $d i32) (result i32) (local $h i32) (local $i i32)
    (local.set $c (i32.and (local.get $c) (i32.const 65535)))
    (loop $l
      (local.set $c
        (select
          (i32.xor (local.tee $h (i32.and (i32.shr_u (local.get $c) (i32.const 1)) (i32.const 32767)))
                   (i32.const 0xA001))
          (local.get $h)
          (i32.and (i32.xor (local.get $c) (i32.shr_u (local.get $d) (local.get $i))) (i32.const 1))))
      (br_if $l (i32.ne (local.tee $i (i32.add (local.get $i) (i32.const 1))) (i32.const 8))))
    (local.get $c))
  ;; a walk down a linked list, `while ((p = p->next))` (i32_load_br_if):
  ;; the values' sum * 100 + the nodes
  (func (export "list_sum") (param $p i32) (result i32) (local $s i32) (local $n i32)
    (loop $l
      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (local.get $p))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (local.tee $p (i32.load (local.get $p)))))
    (i32.add (i32.mul (local.get $s) (i32.const 100)) (local.get $n)))
  ;; strlen, `if (!*s) break` (i32_load8_u_br_unless, through i32.eqz)
  (func (export "length") (param $p i32) (result i32) (local $n i32)
    (block $out
      (loop $l
        (br_if $out (i32.eqz (i32.load8_u (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $n))
  ;; `if (*p)` on a word and on a byte (i32_load_br_unless, i32_load8_u_br_if
  ;; through i32.eqz and if): 1 + 10 for non-zero, the loaded values kept
  (func (export "nonzero") (param $p i32) (result i32) (local $w i32) (local $b i32) (local $r i32)
    (if (local.tee $w (i32.load (local.get $p))) (then (local.set $r (i32.const 1))))
    (if (i32.eqz (local.tee $b (i32.load8_u (local.get $p)))) (then) (else (local.set $r (i32.add (local.get $r) (i32.const 10)))))
    (i32.add (i32.mul (local.get $r) (i32.const 1000)) (i32.add (local.get $w) (local.get $b))))
  ;; sums of a sum or a product just computed (i32_add3, i32_mul_add), either
  ;; operand, wrapping at 32 bits
  (func (export "sum3") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.add (i32.add (local.get $a) (local.get $b)) (local.get $c)))
  (func (export "sum3_right") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.add (local.get $c) (i32.add (local.get $a) (local.get $b))))
  (func (export "mul_add") (param $a i32) (param $b i32) (param $c i32) (result i32)
    (i32.add (local.get $c) (i32.mul (local.get $a) (local.get $b))))
  ;; (c & 255) == ',' and (c & 15) != 3 branched on (i32_and_br_if_eq_imm,
  ;; i32_and_br_if_ne_imm), the masked byte kept in a local
  (func (export "masked_test") (param $c i32) (result i32) (local $m i32)
    (block $comma
      (br_if $comma (i32.eq (local.tee $m (i32.and (local.get $c) (i32.const 255))) (i32.const 44)))
      (if (i32.eq (i32.and (local.get $c) (i32.const 15)) (i32.const 3))
        (then (return (i32.add (i32.const 2000) (local.get $m)))))
      (return (local.get $m)))
    (i32.add (i32.const 1000) (local.get $m)))
  ;; loads through a pointer just loaded (i32_load_i32_load, i32_load_load8_u,
  ;; i32_load_load16_u, i32_load_load16_s); the pointer kept in a local, or
  ;; overwritten by what it points to (`p = p->next->next`)
  (func (export "through_word") (param $p i32) (result i32) (i32.load (i32.load (local.get $p))))
  (func (export "through_byte") (param $p i32) (result i32) (i32.load8_u offset=1 (i32.load (local.get $p))))
  (func (export "through_half") (param $p i32) (result i32) (local $q i32)
    (i32.add (i32.mul (i32.load16_u (local.tee $q (i32.load (local.get $p)))) (i32.const 1000)) (local.get $q)))
  (func (export "through_half_s") (param $p i32) (result i32) (i32.load16_s (i32.load (local.get $p))))
  (func (export "next_next") (param $p i32) (result i32)
    (local.set $p (i32.load (i32.load (local.get $p))))
    (local.get $p)))
