// Checking the shapes, axes, sizes and scalars callers give: one-line errors that name the op and what was expected.
import { type DType, isInt } from '../codegen/dtype.js';

const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A caller's value as a message shows it, on one line: 2.5, NaN, "3", 1n, [1, 2.5], Tensor([], i32, cpu). @internal */
export function show(v: unknown, depth = 0): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function' || typeof v === 'symbol') return `a ${typeof v}`;
  if (Array.isArray(v) || (ArrayBuffer.isView(v) && 'length' in v)) {
    const a = Array.prototype.slice.call(v, 0, 9) as unknown[]; // 9 shown at most, 4 levels: cycles end too
    if (depth > 3) return '[…]';
    return `[${a.map((x, i) => (i === 8 ? '…' : show(x, depth + 1))).join(', ')}]`;
  }
  // an object with its own toString (a Tensor) says what it is; JSON would show only its public fields
  if (typeof v === 'object' && v.toString !== Object.prototype.toString) return String(v);
  try {
    const s = JSON.stringify(v);
    if (s !== undefined) return s.length > 80 ? `${s.slice(0, 77)}...` : s;
  } catch {} // a cycle
  return Object.prototype.toString.call(v);
}

/** A shape given by the caller: a list of non-negative integers, or a one-line error naming `op`. @internal */
export function checkShape(shape: unknown, op: string): readonly number[] {
  if (!Array.isArray(shape) && !ArrayBuffer.isView(shape))
    throw new Error(`${op}: shape must be a list of sizes, got ${show(shape)}`);
  const dims = Array.from(shape as ArrayLike<unknown>);
  const bad = dims.findIndex((d) => !Number.isSafeInteger(d) || (d as number) < 0);
  if (bad >= 0)
    throw new Error(`${op}: shape ${show(dims)} must hold non-negative integers (${show(dims[bad])} is not one)`);
  return shape as readonly number[];
}

/**
 * A size, count or index given by the caller: an integer of at least `min`, or `<op>: <what> must be …, got …`.
 * @internal
 */
export function checkInt(op: string, what: string, v: unknown, min?: 0 | 1): number {
  if (!Number.isSafeInteger(v) || (v as number) < (min ?? -Infinity)) {
    const want = min === 0 ? 'a non-negative integer' : min === 1 ? 'a positive integer' : 'an integer';
    throw new Error(`${op}: ${what} must be ${want}, got ${show(v)}`);
  }
  return v as number;
}

/** A scalar operand or option: a number, NaN and infinities included (or a boolean where `bools`). @internal */
export function checkScalar(op: string, what: string, v: unknown, bools = true): number | boolean {
  if (typeof v !== 'number' && !(bools && typeof v === 'boolean'))
    throw new Error(`${op}: ${what} must be a number${bools ? ' or a boolean' : ''}, got ${show(v)}`);
  return v;
}

/** The range of an integer dtype: what a value must truncate into to be stored without overflow. @internal */
export const intRange = (d: DType): [number, number] => (d === 'u32' ? [0, 2 ** 32 - 1] : [-(2 ** 31), 2 ** 31 - 1]);

/**
 * A value stored into dtype `d`: an integer dtype takes a finite value whose truncation fits it (PyTorch truncates
 * 2.7 to 2 but refuses an overflow); NaN, an infinity or 3e9 into i32 is a one-line error instead of a wrapped value.
 * @internal
 */
export function checkFits(op: string, v: number | boolean, d: DType): void {
  if (typeof v === 'boolean' || !isInt(d)) return;
  const [lo, hi] = intRange(d),
    t = Math.trunc(v);
  if (!(t >= lo && t <= hi))
    throw new Error(`${op}: a value for ${d} must be finite and within [${lo}, ${hi}], got ${show(v)}`);
}

export function broadcastShapes(op: string, ...shapes: (readonly number[])[]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let d = 1;
    for (const s of shapes) {
      const x = s[s.length - n + i] ?? 1;
      if (x !== 1 && d !== 1 && x !== d)
        throw new Error(`${op}: shapes ${shapes.map(fmt).join(' and ')} cannot broadcast`);
      if (x !== 1) d = x;
    }
    out.push(d);
  }
  return out;
}

/** An axis given by the caller, made non-negative, or a one-line error naming `op`. @internal */
export function normAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isSafeInteger(axis)) throw new Error(`${op}: axis must be an integer, got ${show(axis)}`);
  const n = Math.max(ndim, 1); // PyTorch lets a 0-d tensor name dim 0 or -1
  const a = axis < 0 ? axis + n : axis;
  if (a < 0 || a >= n) throw new Error(`${op}: axis ${axis} is out of range for a tensor with ${ndim} dims`);
  return a;
}
