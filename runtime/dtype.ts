// dtype promotion as in PyTorch: bool < integer < floating; Python-style scalars are "weak" and only
// lift the category (int tensor + 1.5 is f32, f16 tensor + 2 stays f16).
import { type DType, isFloat, isInt } from '../codegen/dtype.js';

export type { DType } from '../codegen/dtype.js';
export { dtypes, itemsize, isFloat, isInt } from '../codegen/dtype.js';

const rank = (d: DType): number => (d === 'bool' ? 0 : isInt(d) ? 1 : 2);

export function promoteTypes(a: DType, b: DType): DType {
  if (a === b) return a;
  if (rank(a) !== rank(b)) return rank(a) > rank(b) ? a : b;
  if (isFloat(a)) return 'f32'; // f16 with f32
  return 'i32'; // i32 with u32: we have no i64
}

export function scalarType(v: number | boolean): DType {
  // an integer beyond 32 bits (1e30) can only be a float here: we have no i64
  return typeof v === 'boolean'
    ? 'bool'
    : Number.isInteger(v) && !Object.is(v, -0) && Math.abs(v) < 2 ** 32
      ? 'i32'
      : 'f32';
}

/** Result type of a tensor of dtype t combined with a weak scalar of kind s. */
export function promoteWeak(t: DType, s: DType): DType {
  return rank(s) > rank(t) ? s : t;
}

/**
 * Result type of two operands: a 0-d tensor beside a dimensioned one counts like a weak scalar (it only lifts
 * the category, and then brings its own dtype), as in PyTorch: f16 [2] + f32 0-d is f16, i32 [2] + f16 0-d is f16.
 */
export function promoteOperands(a: { dtype: DType; ndim: number }, b: { dtype: DType; ndim: number }): DType {
  if ((a.ndim === 0) === (b.ndim === 0)) return promoteTypes(a.dtype, b.dtype);
  const [dim, zero] = a.ndim ? [a.dtype, b.dtype] : [b.dtype, a.dtype];
  return rank(zero) > rank(dim) ? zero : dim;
}

/** The float type an op like exp computes in: ints and bools become f32. */
export const floatOf = (d: DType): DType => (isFloat(d) ? d : 'f32');
