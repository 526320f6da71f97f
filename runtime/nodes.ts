// Tensor-level node builders: what Tensor methods build their graphs from (ALU nodes come from codegen/alu.ts, the
// one builder every level shares). Movement ops fold where that is free (a view of a constant is a constant,
// reshape of reshape is one reshape, identity moves vanish); Tensor validates arguments first.
import type { DType } from '../codegen/dtype.js';
import { type ReduceOp, UOp, constOf } from '../codegen/uop.js';
import type { WindowArg } from './view.js';

const same = (a: readonly number[], b: readonly number[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);
const isConstNode = (u: UOp): boolean => u.op === 'CONST';
const constLike = (u: UOp, shape: readonly number[]): UOp => constOf(u.constValue, u.dtype, shape);

export const konst = (v: number | boolean, dtype: DType, shape: readonly number[]): UOp => constOf(v, dtype, shape);
export const arangeNode = (n: number): UOp => UOp.make('ARANGE', 'i32', [], null, [n]);

export function reshape(u: UOp, shape: readonly number[]): UOp {
  if (same(u.shape, shape)) return u;
  if (isConstNode(u)) return constLike(u, shape);
  if (u.op === 'RESHAPE') return reshape(u.src[0]!, shape);
  return UOp.make('RESHAPE', u.dtype, [u], [...shape], shape);
}

export function permute(u: UOp, order: readonly number[]): UOp {
  if (order.every((o, i) => o === i)) return u;
  const shape = order.map((o) => u.shape[o]!);
  if (isConstNode(u)) return constLike(u, shape);
  if (u.op === 'PERMUTE') {
    const inner = u.arg as number[];
    return permute(
      u.src[0]!,
      order.map((o) => inner[o]!),
    );
  }
  return UOp.make('PERMUTE', u.dtype, [u], [...order], shape);
}

export function expand(u: UOp, shape: readonly number[]): UOp {
  if (same(u.shape, shape)) return u;
  if (isConstNode(u)) return constLike(u, shape);
  return UOp.make('EXPAND', u.dtype, [u], [...shape], shape);
}

export function pad(u: UOp, pads: readonly (readonly [number, number])[]): UOp {
  if (pads.every(([a, b]) => a === 0 && b === 0)) return u;
  return UOp.make(
    'PAD',
    u.dtype,
    [u],
    pads.map((p) => [...p]),
    u.shape.map((n, i) => n + pads[i]![0] + pads[i]![1]),
  );
}

export function shrink(u: UOp, ranges: readonly (readonly [number, number])[]): UOp {
  const shape = ranges.map(([lo, hi]) => hi - lo);
  if (ranges.every(([lo], i) => lo === 0 && shape[i] === u.shape[i])) return u;
  if (isConstNode(u)) return constLike(u, shape);
  return UOp.make(
    'SHRINK',
    u.dtype,
    [u],
    ranges.map((r) => [...r]),
    shape,
  );
}

export function flip(u: UOp, axes: readonly boolean[]): UOp {
  if (!axes.some((f, i) => f && u.shape[i]! > 1)) return u;
  if (isConstNode(u)) return u;
  return UOp.make('FLIP', u.dtype, [u], [...axes], u.shape);
}

export function window(u: UOp, w: WindowArg, outSpatial: readonly number[]): UOp {
  const lead = u.shape.slice(0, u.shape.length - w.kernel.length);
  return UOp.make('WINDOW', u.dtype, [u], { kernel: [...w.kernel], stride: [...w.stride], dilation: [...w.dilation] }, [
    ...lead,
    ...outSpatial,
    ...w.kernel,
  ]);
}

export function reduce(u: UOp, op: ReduceOp, axes: readonly number[]): UOp {
  const shape = u.shape.map((n, i) => (axes.includes(i) ? 1 : n));
  if (!axes.length || axes.every((a) => u.shape[a] === 1)) return reshape(u, shape);
  return UOp.make('REDUCE_AXIS', u.dtype, [u], { op, axes: [...axes].sort((a, b) => a - b) }, shape);
}

export const contiguous = (u: UOp): UOp => UOp.make('CONTIGUOUS', u.dtype, [u], null, u.shape);
export const gather = (input: UOp, dim: number, index: UOp): UOp =>
  UOp.make('GATHER', input.dtype, [input, index], dim, index.shape);
