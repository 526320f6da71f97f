// Kernels over tensors stored in chunks. A tensor larger than one device buffer (or binding) lives in several, each
// a whole number of rows; a kernel that touches one is split along an output axis into shards, and every load of a
// shard reads the chunks its index can reach (a select between them where its range spans several). Each launch
// then binds within the device's limits, and every index is relative to its own chunk (below 2^31 elements)
// however large the tensor.
import { add, alu, and, int, lt } from './alu.js';
import type { Kernel, KernelParam } from './kernel.js';
import { globalRanges, linearIndex } from './kernel.js';
import { substitute } from './alu.js';
import { UOp } from './uop.js';

/** How a param's buffer is stored: `chunkElems` elements per chunk (at least numel: one buffer). */
export interface Layout {
  readonly numel: number;
  readonly chunkElems: number;
}
/** One launch of a sharded kernel: its kernel and, per param, which chunk of which original param it binds. */
export interface Shard {
  readonly kernel: Kernel;
  readonly binds: readonly { readonly param: number; readonly chunk: number }[];
}
export interface ShardCaps {
  readonly maxBuffers: number;
  readonly statusBinding?: boolean;
}
/** No shard of a kernel fits: one output element alone binds `bindings` buffers, more than `budget`. */
export class ShardError extends Error {
  constructor(
    message: string,
    readonly bindings: number,
    readonly budget: number,
  ) {
    super(message);
  }
}

/**
 * Elements per chunk for a tensor of `numel` elements whose rows hold `row` elements, on a device with these limits.
 */
export function chunkElems(numel: number, row: number, maxBufferBytes: number): number {
  // sized for 4-byte elements whatever the dtype, so every tensor of one shape is chunked alike (multi-output kernels)
  const cap = Math.min(Math.floor(maxBufferBytes / 4), 2 ** 31 - 1);
  if (numel <= cap) return numel;
  return row <= cap ? Math.floor(cap / row) * row : Math.max(1, Math.floor(cap / 64)) * Math.min(64, cap);
}

/** The elements of a row of `shape`: everything after its outermost axis of extent > 1. */
export function rowElems(shape: readonly number[]): number {
  const d = shape.findIndex((n) => n > 1);
  return d < 0 ? 1 : shape.slice(d + 1).reduce((a, b) => a * b, 1);
}

const hasCheck = (u: UOp): boolean => u.toposort().some((x) => x.op === 'CHECKED');

/**
 * The shards of `k` over params stored as `layouts`, or undefined when every param is one buffer. A shard is a box of
 * the output space: the whole space, split at an output chunk's boundary while its output spans two, then halved
 * along the axis that best lowers its bindings while it binds more than caps.maxBuffers buffers.
 */
export function shard(k: Kernel, layouts: readonly Layout[], caps: ShardCaps): Shard[] | undefined {
  if (layouts.every((l) => l.chunkElems >= l.numel)) return undefined;
  const budget = caps.maxBuffers - (k.stores.some(hasCheck) && caps.statusBinding ? 1 : 0);
  const out: Shard[] = [];
  const split = (box: readonly Box[]): void => {
    const s = piece(k, layouts, box);
    const wide = box.flatMap((r, d) => (r[1] - r[0] > 1 ? [d] : []));
    if (s.straddle === undefined && s.shard.kernel.params.length <= budget) {
      out.push(s.shard);
      return;
    }
    if (!wide.length)
      throw new ShardError(
        `${k.name}: one output element binds ${s.shard.kernel.params.length} buffers, more than the ` +
          `${caps.maxBuffers} the device allows (its inputs are stored in chunks)`,
        s.shard.kernel.params.length,
        budget,
      );
    let halves: [Box[], Box[]];
    if (s.straddle !== undefined) {
      // the output spans chunks: cut the outermost wide axis where a chunk ends
      const d = wide[0]!,
        inner = box.slice(d + 1).reduce((a, r) => a * (r[1] - r[0]), 1),
        at = Math.max(box[d]![0] + 1, Math.min(box[d]![1] - 1, Math.ceil(s.straddle / inner)));
      halves = [cut(box, d, box[d]![0], at), cut(box, d, at, box[d]![1])];
    } else {
      const cost = (d: number): number => {
        const m = Math.floor((box[d]![0] + box[d]![1]) / 2);
        return Math.max(
          piece(k, layouts, cut(box, d, box[d]![0], m)).shard.kernel.params.length,
          piece(k, layouts, cut(box, d, m, box[d]![1])).shard.kernel.params.length,
        );
      };
      const d = wide.reduce((x, y) => (cost(y) < cost(x) ? y : x)),
        m = Math.floor((box[d]![0] + box[d]![1]) / 2);
      halves = [cut(box, d, box[d]![0], m), cut(box, d, m, box[d]![1])];
    }
    split(halves[0]);
    split(halves[1]);
  };
  split(k.shape.map((n): Box => [0, n]));
  return out;
}

type Box = readonly [number, number];
const cut = (box: readonly Box[], d: number, lo: number, hi: number): Box[] =>
  box.map((r, i) => (i === d ? [lo, hi] : r));

/**
 * The shard of k over `box`: loads rebased into the chunks they reach, the store into its chunk. `straddle`: where
 * the shard's output crosses into another chunk (an element offset in the output), if it does.
 */
function piece(k: Kernel, layouts: readonly Layout[], box: readonly Box[]): { shard: Shard; straddle?: number } {
  const shape = box.map(([lo, hi]) => hi - lo),
    full = globalRanges(k.shape),
    moved = new Map<UOp, UOp>();
  const local = globalRanges(shape);
  box.forEach(([lo], d) => {
    if (full[d]!.op === 'RANGE') moved.set(full[d]!, add(local[d]!, int(lo)));
  });
  const memo = new Map<UOp, UOp>();
  const stores = k.stores.map((s) => substitute(s, moved, memo));
  const storeIndex = substitute(k.storeIndex ?? linearIndex(k.shape, full), moved, memo);
  const params: KernelParam[] = [],
    binds: { param: number; chunk: number }[] = [];
  const slot = new Map<string, UOp>();
  const bind = (p: number, chunk: number): UOp => {
    const key = `${p}:${chunk}`;
    let node = slot.get(key);
    if (!node) {
      const l = layouts[p]!,
        base = chunk * l.chunkElems;
      node = UOp.make('PARAM', k.params[p]!.dtype, [], params.length);
      params.push({ ...k.params[p]!, numel: Math.min(l.chunkElems, l.numel - base) });
      binds.push({ param: p, chunk });
      slot.set(key, node);
    }
    return node;
  };
  // outputs first, in their order, each in the chunk that holds this shard's part (outputs share one layout)
  let outBase = 0,
    straddle: number | undefined;
  k.params.forEach((p, i) => {
    if (!p.write) return;
    const l = layouts[i]!,
      c = Math.floor(Math.max(0, storeIndex.vmin) / l.chunkElems);
    if (Math.floor(storeIndex.vmax / l.chunkElems) !== c) straddle = (c + 1) * l.chunkElems;
    outBase = c * l.chunkElems;
    bind(i, c);
  });
  // sources first: a gathered index's own load is rebased before the load it indexes
  const rebased = new Map<UOp, UOp>(),
    inner = new Map<UOp, UOp>();
  for (const s of stores) {
    for (const u of s.toposort()) {
      if (u.op !== 'LOAD' || rebased.has(u)) continue;
      const [p, idx0, gate0] = u.src as [UOp, UOp, UOp];
      const idx = substitute(idx0, rebased, inner),
        gate = substitute(gate0, rebased, inner);
      const i = Number(p.arg),
        l = layouts[i]!;
      const first = Math.floor(Math.max(0, idx.vmin) / l.chunkElems),
        last = Math.max(first, Math.floor(Math.min(l.numel - 1, idx.vmax) / l.chunkElems));
      // each chunk's load is gated to the indices it holds, so a select never reads past a chunk
      const at = (c: number): UOp =>
        UOp.make('LOAD', u.dtype, [
          bind(i, c),
          add(idx, int(-c * l.chunkElems)),
          first === last
            ? gate
            : and(gate, and(lt(int(c * l.chunkElems - 1), idx), lt(idx, int((c + 1) * l.chunkElems)))),
        ]);
      let value = at(last);
      for (let c = last - 1; c >= first; c--)
        value = alu('WHERE', [lt(idx, int((c + 1) * l.chunkElems)), at(c), value]);
      rebased.set(u, value);
    }
  }
  const memo2 = new Map<UOp, UOp>();
  return {
    shard: {
      kernel: {
        ...k,
        shape,
        params,
        stores: stores.map((s) => substitute(s, rebased, memo2)),
        storeIndex: add(storeIndex, int(-outBase)),
      },
      binds,
    },
    straddle,
  };
}
