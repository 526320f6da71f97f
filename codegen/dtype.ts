// Element types: their sizes, categories and how constants round into them.

export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'u32' | 'bool';
export const dtypes: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'u32', 'bool'];

export const itemsize = (d: DType): number => (d === 'f32' || d === 'i32' || d === 'u32' ? 4 : isHalf(d) ? 2 : 1);
export const isFloat = (d: DType): boolean => d === 'f32' || isHalf(d);
/** The 16-bit floats: their math runs in f32 and rounds once at the end (PyTorch's opmath). */
export const isHalf = (d: DType): d is 'f16' | 'bf16' => d === 'f16' || d === 'bf16';
export const isInt = (d: DType): boolean => d === 'i32' || d === 'u32';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** Round a double to the nearest f16 value (round-half-even), returned as a double. */
export function f16round(x: number): number {
  return f16ToF32(f32ToF16(x));
}

/** f32/f64 value -> IEEE half bits (round-half-even, overflow to inf, NaN kept). */
export function f32ToF16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1),
      half = 1 << (shift - 1);
    if (rem > half || (rem === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1,
    exp = (h >>> 10) & 0x1f,
    mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** f32/f64 value -> bfloat16 bits (the top half of the f32, round-half-even; NaN stays NaN). */
export function f32ToBf16(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return (b >>> 16) | 0x40;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16ToF32(h: number): number {
  u32[0] = h << 16;
  return f32[0]!;
}

/** Round a double to the nearest bfloat16 value (through f32, as PyTorch converts), returned as a double. */
export function bf16round(x: number): number {
  return bf16ToF32(f32ToBf16(x));
}

/** The value a constant takes once stored in dtype d. */
export function castValue(x: number | boolean, d: DType): number | boolean {
  const n = typeof x === 'boolean' ? (x ? 1 : 0) : x;
  switch (d) {
    case 'bool':
      return n !== 0;
    case 'f32':
      return Math.fround(n);
    case 'f16':
      return f16round(n);
    case 'bf16':
      return bf16round(n);
    case 'i32':
      return Number.isFinite(n) ? Math.trunc(n) | 0 : 0;
    case 'u32':
      return Number.isFinite(n) ? Math.trunc(n) >>> 0 : 0;
    default:
      return d satisfies never;
  }
}

/** Smallest and largest finite values; the identity of max-reduction. */
export function minValue(d: DType): number | boolean {
  return d === 'bool' ? false : d === 'i32' ? -2147483648 : d === 'u32' ? 0 : -Infinity;
}
