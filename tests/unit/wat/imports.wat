;; One import of each kind, for the import-type accessors.
(module
  (import "env" "f" (func (param i64) (result f32)))
  (import "env" "t" (table 2 10 externref))
  (import "env" "m" (memory 1))
  (import "env" "g" (global (mut f64))))
