// TC: a staged matmul-shaped reduce whose chunks tensor cores multiply. The reduce over range r must be a sum of
// products of two f16 (or two bf16) values cast to f32, x depending (among the tiled axes) on the tile's first axis
// and y on its second: C[row, col] = Σ_k x[row, k] · y[k, col]. STAGE's fills already lay a chunk of x out
// column-major (k outer, row inner) and y row-major (k outer, col inner), which is what the matrix unit loads, each
// k-step at a pitch that keeps those loads free of bank conflicts (chunkPitch); each UPCAST copy of the reduce is one
// m×n matrix tile, multiplied by warp (copy mod warps), stored to workgroup memory after the loop and read back by
// every thread at its place in the tile. The shapes and dtypes come from Caps.tensorCores, never from code paths.
import type { TensorCore } from '../backends/backend.js';
import type { OptCaps } from './actions.js';
import { type DType, isFloat, isHalf, itemsize } from './dtype.js';
import { type Kernel, type Opt, globalRanges, localTile, rangeDeps } from './kernel.js';
import type { UOp } from './uop.js';

/** Threads that drive one matrix unit together (a CUDA warp). */
export const warpSize = 32;

/**
 * An MMA node's shape, the warp of its workgroup that multiplies its tile, and the pitches its staged chunks are laid
 * out at: A's k-steps lda elements apart, B's ldb (chunkPitch).
 */
export interface MmaArg {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly warp: number;
  readonly lda: number;
  readonly ldb: number;
}

/**
 * The pitch of a staged chunk whose steps are `elems` values of `bytes` each: padded by 16 bytes where it is an even
 * number of 16-byte units. Matrix loads read 8 steps' 16 bytes at once; at an odd pitch they fall in 8 different
 * 16-byte groups of the 32 4-byte banks, at an even one 2 to 8 of them share a group (2- to 8-way bank conflicts).
 */
export function chunkPitch(elems: number, bytes: number): number {
  const unit = 16 / bytes;
  return elems % unit === 0 && (elems / unit) % 2 === 0 ? elems + unit : elems;
}

/**
 * The operands x (over the first tiled axis) and y (the second) of a reduce TC can take, 16-bit floats of one dtype
 * (the tensor core's input; the reduce's dtype is its accumulator), or why it cannot.
 */
export function mmaOperands(
  red: UOp,
  rows: UOp,
  cols: UOp,
  deps: (u: UOp) => ReadonlySet<UOp>,
): { x: UOp; y: UOp } | string {
  if (red.arg !== 'ADD' || !isFloat(red.dtype) || red.src.length !== 2)
    return 'the reduce is not a float sum over one range';
  const body = red.src[0]!;
  const inner = (u: UOp): UOp | undefined =>
    u.op === 'CAST' && isHalf(u.src[0]!.dtype) ? u.src[0] : isHalf(u.dtype) ? u : undefined;
  const [a, b] = body.op === 'MUL' ? body.src.map(inner) : [];
  if (!a || !b) return 'the reduce does not sum products of f16 or bf16 values';
  if (a.dtype !== b.dtype) return `its operands are of two dtypes (${a.dtype}, ${b.dtype})`;
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

/**
 * Whether TC renders a tensor core: WMMA and WebGPU's subgroup matrices (opaque fragments), and mma.sync where its
 * fragment layout is listed (codegen/mmasync.ts loads registers by ldmatrix as it says, and names what ldmatrix
 * cannot load of a layout the device lists).
 */
const renders = (t: TensorCore): boolean => t.api !== 'mma.sync' || !!t.layout;

/**
 * The tensor core that multiplies an m×n tile over k-chunks of `input` into `acc`, in pieces of its own shape: the
 * first listed whose m and n divide the tile's (a 16×16 tile takes WMMA's 16×16, a 32×8 one two m16n8k16 pieces).
 */
export function coreFor(
  cores: readonly TensorCore[] | undefined,
  tile: { readonly m: number; readonly n: number; readonly k: number },
  input: DType,
  acc: DType,
): TensorCore | undefined {
  return cores?.find(
    (t) =>
      renders(t) && t.k === tile.k && tile.m % t.m === 0 && tile.n % t.n === 0 && t.input === input && t.acc === acc,
  );
}

/** The unit a renderer multiplies an MMA tile of `input` with (TC validated that one is listed). */
export function unitFor(cores: readonly TensorCore[], s: MmaArg, input: DType, target: string): TensorCore {
  const t = coreFor(cores, s, input, 'f32');
  if (!t) throw new Error(`${target}: no listed tensor core multiplies a ${s.m}×${s.n}×${s.k} tile of ${input}`);
  return t;
}

/** The pieces of the tensor core's shape an m×n tile is multiplied in, row-major: their first row and column. */
export function pieces(s: MmaArg, t: TensorCore): { row: number; col: number }[] {
  return Array.from({ length: (s.m / t.m) * (s.n / t.n) }, (_, p) => ({
    row: Math.floor(p / (s.n / t.n)) * t.m,
    col: (p % (s.n / t.n)) * t.n,
  }));
}

/** Why TC `o` cannot apply to k under `opts` on a device with these caps, or undefined. */
export function invalidTensorCore(k: Kernel, o: Opt, opts: readonly Opt[], caps: OptCaps): string | undefined {
  const s = `TC(${o.axis}, ${o.amount})`;
  const tile = localTile({ ...k, opts }),
    axes = tile.flatMap((t, d) => (t > 1 ? [d] : []));
  const listed = caps.tensorCores?.filter(renders) ?? [];
  if (!listed.length) return `${s}: the device lists no tensor core TC renders`;
  const [m, n] = [tile[axes[0]!]!, tile[axes[1]!]!];
  if (axes.length !== 2 || !listed.some((t) => t.k === o.amount && m % t.m === 0 && n % t.n === 0))
    return `${s}: LOCAL must tile two axes by multiples of a tensor core's m×n (${[
      ...new Set(listed.map((t) => `${t.m}×${t.n}×${t.k}`)),
    ].join(', ')}), with k = ${o.amount}`;
  const g = globalRanges(k.shape),
    deps = rangeDeps();
  const reduces = reducesOver(k, o.axis);
  if (!reduces.length) return `${s}: no reduce over range ${o.axis}`;
  let bytes = 0;
  const copies = opts.filter((x) => x.op === 'UPCAST').reduce((a, x) => a * x.amount, 1);
  for (const red of reduces) {
    const ops = mmaOperands(red, g[axes[0]!]!, g[axes[1]!]!, deps);
    if (typeof ops === 'string') return `${s}: ${ops}`;
    const tc = coreFor(listed, { m, n, k: o.amount }, ops.x.dtype, red.dtype);
    if (!tc) return `${s}: no tensor core for a ${m}×${n}×${o.amount} tile takes ${ops.x.dtype} into ${red.dtype}`;
    const group = tc.maxSubgroup ?? warpSize;
    if (caps.workgroupSize % group)
      return `${s}: workgroups of ${caps.workgroupSize} are not whole ${group}-thread warps or subgroups`;
    const size = itemsize(tc.input);
    bytes += copies * (m * n * itemsize(tc.acc) + (chunkPitch(m, size) + chunkPitch(n, size)) * tc.k * size);
  }
  const limit = caps.sharedBytes ?? 0;
  return bytes > limit ? `${s}: ${bytes} bytes of workgroup memory, more than the ${limit} allowed` : undefined;
}
