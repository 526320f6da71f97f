// TC: a staged matmul-shaped reduce whose chunks tensor cores multiply. The reduce over range r must be a sum of
// products of two f16 values cast to f32, x depending (among the tiled axes) on the tile's first axis and y on its
// second: C[row, col] = Σ_k x[row, k] · y[k, col]. STAGE's fills already lay a chunk of x out column-major (k outer,
// row inner) and y row-major (k outer, col inner), which is what the matrix unit loads; each UPCAST copy of the
// reduce is one m×n matrix tile, multiplied by warp (copy mod warps), stored to workgroup memory after the loop and
// read back by every thread at its place in the tile. The shapes come from Caps.tensorCores, never from code paths.
import type { TensorCore } from '../backends/backend.js';
import type { OptCaps } from './actions.js';
import { itemsize } from './dtype.js';
import { type Kernel, type Opt, globalRanges, localTile, rangeDeps } from './kernel.js';
import type { UOp } from './uop.js';

/** Threads that drive one matrix unit together (a CUDA warp). */
export const warpSize = 32;

/** An MMA node's shape, and the warp of its workgroup that multiplies its tile. */
export interface MmaArg {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly warp: number;
}

/**
 * The operands x (over the first tiled axis) and y (the second) of a reduce TC can take, in the tensor core's input
 * dtype, or why it cannot.
 */
export function mmaOperands(
  red: UOp,
  rows: UOp,
  cols: UOp,
  tc: Pick<TensorCore, 'input' | 'acc'>,
  deps: (u: UOp) => ReadonlySet<UOp>,
): { x: UOp; y: UOp } | string {
  if (red.arg !== 'ADD' || red.dtype !== tc.acc || red.src.length !== 2)
    return `the reduce is not a ${tc.acc} sum over one range`;
  const body = red.src[0]!;
  const inner = (u: UOp): UOp | undefined =>
    u.op === 'CAST' && u.src[0]!.dtype === tc.input ? u.src[0] : u.dtype === tc.input ? u : undefined;
  const [a, b] = body.op === 'MUL' ? body.src.map(inner) : [];
  if (!a || !b) return `the reduce does not sum products of ${tc.input} values`;
  const r = red.src[1]!;
  // over r, its own tiled axis and untiled global axes (a batch) only
  const only = (u: UOp, axis: UOp, other: UOp): boolean => {
    const d = deps(u);
    return d.has(r) && d.has(axis) && !d.has(other) && [...d].every((x) => x === r || x.range.kind === 'global');
  };
  if (only(a, rows, cols) && only(b, cols, rows)) return { x: a, y: b };
  if (only(b, rows, cols) && only(a, cols, rows)) return { x: b, y: a };
  return 'its operands do not split into one per tiled axis';
}

/** The reduces over range `axis` (TC applies to every one). */
const reducesOver = (k: Kernel, axis: number): UOp[] => [
  ...new Set(
    k.stores.flatMap((s) =>
      s.toposort().filter((u) => u.op === 'REDUCE' && u.src.slice(1).some((x) => x.range.id === axis)),
    ),
  ),
];

/** Why TC `o` cannot apply to k under `opts` on a device with these caps, or undefined. */
export function invalidTensorCore(k: Kernel, o: Opt, opts: readonly Opt[], caps: OptCaps): string | undefined {
  const s = `TC(${o.axis}, ${o.amount})`;
  const tile = localTile({ ...k, opts }),
    axes = tile.flatMap((t, d) => (t > 1 ? [d] : []));
  const tc = caps.tensorCores?.find(
    (t) => t.api === 'wmma' && t.k === o.amount && t.m === tile[axes[0]!] && t.n === tile[axes[1]!],
  );
  if (!caps.tensorCores?.some((t) => t.api === 'wmma')) return `${s}: the device lists no tensor core TC renders`;
  if (axes.length !== 2 || !tc)
    return `${s}: LOCAL must tile two axes by a tensor core's m×n (${caps.tensorCores
      .filter((t) => t.api === 'wmma')
      .map((t) => `${t.m}×${t.n}×${t.k}`)
      .join(', ')}), with k = ${o.amount}`;
  if (caps.workgroupSize % warpSize) return `${s}: workgroups are not whole warps`;
  const g = globalRanges(k.shape),
    deps = rangeDeps();
  const reduces = reducesOver(k, o.axis);
  if (!reduces.length) return `${s}: no reduce over range ${o.axis}`;
  for (const red of reduces) {
    const why = mmaOperands(red, g[axes[0]!]!, g[axes[1]!]!, tc, deps);
    if (typeof why === 'string') return `${s}: ${why}`;
  }
  const copies = opts.filter((x) => x.op === 'UPCAST').reduce((a, x) => a * x.amount, 1) * reduces.length;
  const bytes = copies * (tc.m * tc.n * itemsize(tc.acc) + (tc.m + tc.n) * tc.k * itemsize(tc.input));
  const limit = caps.sharedBytes ?? 0;
  return bytes > limit ? `${s}: ${bytes} bytes of workgroup memory, more than the ${limit} allowed` : undefined;
}
