// STAGE: workgroup-memory staging of the operand tiles a LOCAL tile's threads share. The reduce over range r runs in
// chunks of S steps; each chunk, the workgroup first loads together every element its threads will read of each
// shared load (A[i, k] for the tile's rows, B[k, j] for its columns in a matmul) into workgroup memory, waits at a
// barrier, then every thread reads its S steps from there. Valid where a LOCAL tile is the whole workgroup (no spare
// threads: every thread reaches the barriers) and no GROUP shares outputs.
import { add, idiv, int, lt, mod, mul, substitute } from './alu.js';
import type { Caps } from '../backends/backend.js';
import { itemsize } from './dtype.js';
import { type Kernel, type Opt, globalRanges, launchShape, localTile, rangeDeps } from './kernel.js';
import { type MmaArg, chunkPitch, mmaOperands, warpSize } from './tensorcore.js';
import { UOp, constOf } from './uop.js';

/** Range ids of the staged loop's inner steps and of the fill loops, apart from every global and reduce id. */
const innerId = (r: number): number => 1_000_000 + r;
const fillId = (n: number): number => 2_000_000 + n;
/** TC: the workgroup array tile t's result goes to, apart from the staged arrays' ids. */
const tileId = (t: number): number => 3_000_000 + t;
/** What the matrix units load from workgroup memory must be aligned to (WMMA: 256 bits). */
const matrixAlign = 32;

/** One staged load: the workgroup array, and the fill that writes element `index` of it for each fill step. */
export interface Stage {
  readonly shared: UOp;
  /** The fill loop's range (its extent: fills per thread), or the constant 0 where one fill each suffices. */
  readonly fill: UOp;
  readonly index: UOp;
  readonly value: UOp;
  readonly gate?: UOp;
}

/** The workgroup arrays a kernel's SHARED nodes name: `size` elements of the node's dtype, `align` bytes aligned. */
export interface SharedArg {
  readonly id: number;
  readonly size: number;
  readonly align?: number;
}

/**
 * The loads of reduce `red` (over range r alone) that threads of a tile share: they depend on r and on global
 * ranges only, and not on every tiled range (so several threads read each element); never bools (workgroup memory
 * holds them as the language does, not as buffers do).
 */
function sharedLoads(red: UOp, tiled: readonly UOp[], deps: (u: UOp) => ReadonlySet<UOp>): UOp[] {
  const r = red.src[1]!;
  return red.src[0]!.toposort().filter((u) => {
    if (u.op !== 'LOAD' || u.src[0]!.op !== 'PARAM' || u.dtype === 'bool') return false;
    const d = deps(u);
    return d.has(r) && [...d].every((x) => x === r || x.range.kind === 'global') && tiled.some((g) => !d.has(g));
  });
}

/** The reduces over range `axis` alone, where STAGE could apply. */
const reducesOver = (stores: readonly UOp[], axis: number): UOp[] => [
  ...new Set(
    stores.flatMap((s) =>
      s.toposort().filter((u) => u.op === 'REDUCE' && u.src.length === 2 && u.src[1]!.range.id === axis),
    ),
  ),
];

/**
 * Why STAGE `o` cannot apply to k under `opts`, or undefined (LOCAL and GROUP are checked by the caller); staged
 * values take the bytes of the dtype the device keeps them in (`storage`).
 */
export function invalidStage(
  k: Kernel,
  o: Opt,
  opts: readonly Opt[],
  sharedBytes: number,
  storage: Caps['storage'],
): string | undefined {
  const kk = { ...k, opts },
    tile = localTile(kk),
    g = globalRanges(k.shape);
  const tiled = tile.flatMap((t, d) => (t > 1 ? [g[d]!] : []));
  const deps = rangeDeps();
  const reduces = reducesOver(k.stores, o.axis);
  if (!reduces.length) return `STAGE(${o.axis}, ${o.amount}): no reduce over range ${o.axis} alone`;
  const upcast = (u: UOp): number =>
    opts.filter((x) => x.op === 'UPCAST' && deps(u).has(g[x.axis]!)).reduce((a, x) => a * x.amount, 1);
  const loads = [...new Set(reduces.flatMap((red) => sharedLoads(red, tiled, deps)))];
  if (!loads.length) return `STAGE(${o.axis}, ${o.amount}): no load the threads of a tile share`;
  const bytes = loads.reduce((a, u) => {
    const per = tile.reduce((p, t, d) => (t > 1 && deps(u).has(g[d]!) ? p * t : p), 1);
    return a + o.amount * per * itemsize(storage[u.dtype] ?? u.dtype) * upcast(u);
  }, 0);
  return bytes > sharedBytes
    ? `STAGE(${o.axis}, ${o.amount}): ${bytes} bytes of workgroup memory, more than the ${sharedBytes} allowed`
    : undefined;
}

/**
 * The stores with STAGE or TC `o` applied (k's other actions already expanded), and the fills each chunk loop runs.
 * Under TC each reduce sums, per chunk, the MMA of its staged operands instead of the chunk's steps.
 */
export function staged(k: Kernel, o: Opt, stores: readonly UOp[]): { stores: UOp[]; stages: Map<UOp, Stage[]> } {
  const S = o.amount,
    launch = launchShape(k),
    tile = localTile(k),
    threads = tile.reduce((a, b) => a * b, 1);
  const g = globalRanges(launch),
    axes = launch.flatMap((_, d) => (tile[d]! > 1 ? [d] : []));
  const deps = rangeDeps();
  // this thread's place in its tile (row-major, as gridCoord lays the tile out) and the tile's origin per axis
  const within = (dims: readonly number[]): UOp =>
    dims.reduce((acc, d) => add(mul(acc, int(tile[d]!)), mod(g[d]!, tile[d]!)), int(0));
  const lid = within(axes);
  const origin = (d: number): UOp => mul(idiv(g[d]!, tile[d]!), int(tile[d]!));
  const reads = new Map<UOp, UOp>(),
    stages = new Map<UOp, Stage[]>();

  /** The chunk of `load` staged, its S steps `pitch` elements apart (for matrix units padded: chunkPitch). */
  const stageLoad = (load: UOp, r: UOp, outer: UOp, inner: UOp, matrix = false): UOp => {
    const hit = reads.get(load);
    if (hit) return hit;
    const dims = axes.filter((d) => deps(load).has(g[d]!)),
      per = dims.reduce((a, d) => a * tile[d]!, 1),
      pitch = matrix ? chunkPitch(per, itemsize(load.dtype)) : per,
      elems = S * per;
    const shared = UOp.make('SHARED', load.dtype, [], {
      id: reads.size,
      size: S * pitch,
      ...(matrix ? { align: matrixAlign } : {}),
    } satisfies SharedArg);
    const read = UOp.make('LOAD', load.dtype, [
      shared,
      add(mul(inner, int(pitch)), within(dims)),
      constOf(true, 'bool'),
    ]);
    // the fill: element e of the chunk is step e / per at the tile position e % per (row-major over dims)
    const fills = Math.ceil(elems / threads);
    const fill =
      fills === 1 ? int(0) : UOp.make('RANGE', 'i32', [], { id: fillId(reads.size), extent: fills, kind: 'reduce' });
    const e = add(lid, mul(fill, int(threads)));
    const at = new Map<UOp, UOp>([[r, add(mul(outer, int(S)), idiv(e, per))]]);
    let rest = mod(e, per);
    for (const d of [...dims].reverse()) {
      at.set(g[d]!, add(origin(d), mod(rest, tile[d]!)));
      rest = idiv(rest, tile[d]!);
    }
    const stage: Stage = {
      shared,
      fill,
      index: pitch === per ? e : add(mul(idiv(e, per), int(pitch)), mod(e, per)),
      value: substitute(load, at),
      ...(elems % threads ? { gate: lt(e, int(elems)) } : {}),
    };
    stages.set(outer, [...(stages.get(outer) ?? []), stage]);
    reads.set(load, read);
    return read;
  };

  const memo = new Map<UOp, UOp>();
  /** TC: the reduce as a sum over chunks of one MMA each, its tile multiplied by warp (tile mod warps). */
  const matrixReduce = (red: UOp, r: UOp, outer: UOp, inner: UOp): UOp => {
    const [m, n] = axes.map((d) => tile[d]!) as [number, number];
    // validated against the device's tensor cores before (one takes the operands' dtype)
    const ops = mmaOperands(red, g[axes[0]!]!, g[axes[1]!]!, deps);
    if (typeof ops === 'string') throw new Error(`TC on ${k.name}: ${ops}`); // validated before
    const [x, y] = [ops.x, ops.y].map((v) => stageLoad(v, r, outer, inner, true).src[0]!) as [UOp, UOp];
    const t = [...memo.values()].length,
      c = UOp.make('SHARED', red.dtype, [], { id: tileId(t), size: m * n, align: matrixAlign } satisfies SharedArg);
    const pitch = (chunk: UOp): number => (chunk.arg as unknown as SharedArg).size / S;
    const mma = UOp.make('MMA', red.dtype, [x, y, c, lid], {
      m,
      n,
      k: S,
      warp: t % (threads / warpSize),
      lda: pitch(x),
      ldb: pitch(y),
    } satisfies MmaArg);
    return UOp.make('REDUCE', red.dtype, [mma, outer], red.arg, red.shape);
  };
  const rewriteReduce = (red: UOp): UOp => {
    let out = memo.get(red);
    if (out) return out;
    const r = red.src[1]!,
      tiled = axes.map((d) => g[d]!);
    const outer = UOp.make('RANGE', 'i32', [], { ...r.range, extent: r.range.extent / S });
    const inner = UOp.make('RANGE', 'i32', [], { id: innerId(r.range.id), extent: S, kind: 'reduce' });
    if (o.op === 'TC') {
      out = matrixReduce(red, r, outer, inner);
      memo.set(red, out);
      return out;
    }
    const loads = new Map(sharedLoads(red, tiled, deps).map((u) => [u, stageLoad(u, r, outer, inner)]));
    const body = substitute(substitute(red.src[0]!, loads), new Map([[r, add(mul(outer, int(S)), inner)]]));
    out = UOp.make('REDUCE', red.dtype, [body, outer, inner], red.arg, red.shape);
    memo.set(red, out);
    return out;
  };
  const targets = reducesOver(stores, o.axis);
  const replaced = new Map(targets.map((red) => [red, rewriteReduce(red)]));
  const shared = new Map<UOp, UOp>();
  return { stores: stores.map((s) => substitute(s, replaced, shared)), stages };
}
