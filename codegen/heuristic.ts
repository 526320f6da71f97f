// The heuristic: optimizer actions picked by a cost model, no timing. UPCAST/UNROLL minimize the loads one thread
// issues per output; on GPUs, kernels with too few outputs to fill the device GROUP their long reduces, and
// elementwise kernels with outputs to spare compute a few adjacent ones a thread (adjacentOutputs).
import { type OptCaps, groupableRanges, maxUpcast, split, topReduces } from './actions.js';
import { substitute, int } from './alu.js';
import type { Kernel, Opt } from './kernel.js';
import { globalRanges, rangeDeps } from './kernel.js';
import type { UOp } from './uop.js';

/** Threads below which a GPU kernel should not upcast further, and should group its reduces. */
const minThreads = 4096;
/** Adjacent outputs an elementwise GPU thread computes (adjacentOutputs). */
const elementwisePerThread = 4;
/** Most reduce steps per unrolled iteration the heuristic picks, longest reduce range it unrolls whole. */
const maxUnroll = 9,
  smallReduce = 4;
const floorPow2 = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(n, 1)));

/**
 * UPCAST and UNROLL actions by a cost model: the loads one thread issues per output it computes. Each candidate
 * upcasts global axes that some load inside a reduce ignores (by 2, 4 or 8, at most maxUpcast outputs and while
 * enough threads remain) and unrolls short reduce ranges whole; loads that come out equal (a weight shared by the
 * upcast pixels, the overlapping windows of unrolled conv taps) count once.
 */
function upcasts(k: Kernel, minLeft: number): Opt[] {
  const deps = rangeDeps(),
    globals = globalRanges(k.shape);
  const loads = new Set<UOp>(),
    reduceRanges = new Map<number, UOp>(),
    ignored = new Set<number>(),
    boolRanges = new Set<number>();
  for (const s of k.stores) {
    for (const u of s.toposort()) {
      if (u.op === 'LOAD') loads.add(u);
      if (u.op !== 'REDUCE') continue;
      for (const x of u.src.slice(1)) if (x.range.extent <= smallReduce) reduceRanges.set(x.range.id, x);
      // no ALU folds bools (any/all)
      if (u.dtype === 'bool') for (const x of u.src.slice(1)) boolRanges.add(x.range.id);
      for (const l of u.src[0]!.toposort()) {
        if (l.op !== 'LOAD') continue;
        const d = deps(l);
        globals.forEach((g, axis) => {
          if (g.op === 'RANGE' && !d.has(g)) ignored.add(axis);
        });
      }
    }
  }
  if (!ignored.size) return [];
  for (const id of boolRanges) reduceRanges.delete(id);
  const rangeOf = (o: Opt): UOp => (o.op === 'UPCAST' ? globals[o.axis]! : reduceRanges.get(o.axis)!);
  // one range at a time, in a fixed order, memoized: candidates share most of their partial expansions
  const subMemo = new Map<string, UOp>(),
    splits = new Map<string, (u: number) => UOp>();
  const sub = (e: UOp, o: Opt, u: number): UOp => {
    const r = rangeOf(o),
      key = `${e.id}|${r.id}|${o.amount}|${u}`;
    let out = subMemo.get(key);
    if (!out) {
      const sk = `${r.id}|${o.amount}`;
      let at = splits.get(sk);
      if (!at) splits.set(sk, (at = split(r, o.amount).at));
      subMemo.set(key, (out = substitute(e, new Map([[r, at(u)]]))));
    }
    return out;
  };
  const copiesMemo = new Map<string, number>();
  /** How many distinct (index, gate) pairs load l takes over the offsets of the actions that touch its ranges. */
  const copies = (l: UOp, opts: readonly Opt[]): number => {
    const mine = opts.filter((o) => deps(l).has(rangeOf(o))).sort((a, b) => rangeOf(a).id - rangeOf(b).id);
    const key = `${l.id}|${mine.map((o) => `${o.op}${o.axis},${o.amount}`).join()}`;
    let n = copiesMemo.get(key);
    if (n !== undefined) return n;
    let exprs: UOp[][] = [l.src.slice(1)];
    for (const o of mine)
      exprs = exprs.flatMap((es) => Array.from({ length: o.amount }, (_, u) => es.map((e) => sub(e, o, u))));
    n = new Set(exprs.map((es) => es.map((e) => e.id).join())).size;
    copiesMemo.set(key, n);
    return n;
  };
  const cost = (opts: readonly Opt[]): number => {
    let total = 0;
    for (const l of loads) {
      let trips = 1;
      for (const r of deps(l))
        if (r.range.kind !== 'global')
          trips *= r.range.extent / (opts.find((o) => o.op === 'UNROLL' && o.axis === r.range.id)?.amount ?? 1);
      total += copies(l, opts) * trips;
    }
    return total / opts.reduce((a, o) => a * (o.op === 'UPCAST' ? o.amount : 1), 1);
  };
  // candidates: innermost axes and bigger amounts first, so ties keep the first (contiguous, fewer actions) one
  let cands: Opt[][] = [[]];
  const outputs = k.shape.reduce((a, b) => a * b, 1);
  for (const axis of [...ignored].sort((a, b) => b - a)) {
    cands = cands.flatMap((c) => [
      ...[8, 4, 2].filter((f) => k.shape[axis]! % f === 0).map((f) => [...c, { op: 'UPCAST', axis, amount: f } as Opt]),
      c,
    ]);
  }
  cands = cands.filter((c) => {
    const p = c.reduce((a, o) => a * o.amount, 1);
    return p <= maxUpcast && outputs / p >= minLeft;
  });
  for (const x of reduceRanges.values())
    cands = cands.flatMap((c) => [c, [...c, { op: 'UNROLL', axis: x.range.id, amount: x.range.extent } as Opt]]);
  cands = cands.filter((c) => c.filter((o) => o.op === 'UNROLL').reduce((a, o) => a * o.amount, 1) <= maxUnroll);
  let best: Opt[] = [],
    bestCost = cost([]);
  for (const c of cands) {
    const v = cost(c);
    if (v < bestCost * (1 - 1e-9)) {
      best = c;
      bestCost = v;
    }
  }
  return best;
}

/**
 * UPCAST/UNROLL by the cost model above. On GPUs, when that leaves fewer outputs than the device runs threads
 * (caps.threads) and the reduces are long (GEMV, norm statistics, softmax rows, full sums), GROUP the longest
 * range of every top-level reduce over a power-of-two number of lanes, so the device gets its threads from the reduce.
 */
export function optimize(k: Kernel, caps: OptCaps): Kernel {
  const gpu = !caps.globalsAsLoops;
  const opts = upcasts(k, gpu ? minThreads : 1);
  const threads = opts.reduce(
    (a, o) => a / (o.op === 'UPCAST' ? o.amount : 1),
    k.shape.reduce((a, b) => a * b, 1),
  );
  if (gpu && threads <= minThreads) opts.push(...group(k, threads, caps));
  if (gpu && !opts.length) opts.push(...adjacentOutputs(k));
  return opts.length ? { ...k, opts } : k;
}

/**
 * adjacentOutputs: an elementwise GPU kernel (no reduce) with threads to spare computes elementwisePerThread
 * adjacent outputs of its innermost axis a thread. A thread's fixed cost (its index math and bounds check; a CPU
 * rasterizer's per-invocation overhead, half the time of a 1M-element add on lavapipe) is then shared; the loads
 * of a warp still cover the same cache lines.
 */
function adjacentOutputs(k: Kernel): Opt[] {
  const axis = k.shape.length - 1,
    outputs = k.shape.reduce((a, b) => a * b, 1);
  if (axis < 0 || k.shape[axis]! % elementwisePerThread || outputs / elementwisePerThread < minThreads) return [];
  if (k.stores.some((s) => s.toposort().some((u) => u.op === 'REDUCE'))) return [];
  return [{ op: 'UPCAST', axis, amount: elementwisePerThread }];
}

/** GROUP actions for a kernel with `threads` outputs per launch, or none. Lanes get ≥ 4 iterations each. */
function group(k: Kernel, threads: number, caps: OptCaps): Opt[] {
  const top = topReduces(k);
  if (!top.length || top.some((r) => r.dtype === 'bool')) return [];
  const own = new Set(groupableRanges(k));
  const picks = top.map(
    (r) =>
      r.src
        .slice(1)
        .filter((x) => own.has(x))
        .sort((a, b) => b.range.extent - a.range.extent)[0],
  );
  if (picks.some((x) => x === undefined)) return [];
  const shortest = Math.min(...picks.map((x) => x!.range.extent));
  const amount = Math.min(floorPow2(caps.workgroupSize), floorPow2(caps.threads / threads), floorPow2(shortest / 4));
  if (amount < 4) return [];
  const op = picks.some((x) => reduceContiguous(k, x!)) ? 'GROUP' : 'GROUPWIDE';
  return [...new Set(picks.map((x) => x!.range.id))].map((axis) => ({ op, axis, amount }));
}

/**
 * Whether the per-output loads (those that vary with an output axis) step by one element along `range`,
 * so adjacent lanes read adjacent memory; otherwise adjacent outputs do (a GEMV against a [K, N] weight).
 */
function reduceContiguous(k: Kernel, range: UOp): boolean {
  let unit = 0,
    other = 0;
  const seen = new Set<UOp>();
  for (const s of k.stores) {
    for (const u of s.toposort()) {
      if (u.op !== 'LOAD' || seen.has(u)) continue;
      seen.add(u);
      const ranges = u.src[1]!.toposort().filter((x) => x.op === 'RANGE');
      if (!ranges.includes(range) || !ranges.some((x) => x.range.kind === 'global')) continue;
      const at = (v: number) => substitute(u.src[1]!, new Map(ranges.map((x) => [x, int(x === range ? v : 0)])));
      const [a, b] = [at(0), at(1)];
      if (a.isConst && b.isConst && Number(b.constValue) - Number(a.constValue) === 1) unit++;
      else other++;
    }
  }
  return unit >= other;
}
