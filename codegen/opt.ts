// Kernel optimizations as listed actions (tinygrad's OptOps), a search that picks them by a cost model, and the
// rewrites that apply them: upcasting axis d by f replaces its range g with g'*f + u for u < f, so one thread
// computes f outputs and loads independent of d are shared; unrolling a reduce range does the same inside a loop.
import { add, int, mul, alu } from './alu.js';
import type { Kernel, Opt } from './kernel.js';
import { isGroup, launchShape } from './kernel.js';
import { globalRanges, linearIndex, rangeDeps } from './linearize.js';
import { type AluOp, UOp, isAlu } from './uop.js';

/** Rebuilds u with nodes replaced (ALU nodes re-simplify). */
export function substitute(u: UOp, map: ReadonlyMap<UOp, UOp>, memo = new Map<UOp, UOp>()): UOp {
  const hit = map.get(u) ?? memo.get(u);
  if (hit) return hit;
  const src = u.src.map((s) => substitute(s, map, memo));
  const out = src.every((s, i) => s === u.src[i]) ? u : isAlu(u.op) ? alu(u.op as AluOp, src, u.dtype) : UOp.make(u.op, u.dtype, src, u.arg, u.shape);
  memo.set(u, out);
  return out;
}

/** Range r split by f: r'*f + u, where r' keeps r's id and kind over extent / f (the constant 0 when f is the extent). */
function split(r: UOp, f: number): { outer: UOp; at: (u: number) => UOp } {
  const outer = r.range.extent === f ? int(0) : UOp.make('RANGE', 'i32', [], { ...r.range, extent: r.range.extent / f });
  return { outer, at: (u) => add(mul(outer, int(f)), int(u)) };
}

/** UNROLL's rewrite: a reduce over range r unrolled by f folds f copies of its value (r -> r'*f + u) per iteration of r'. */
function unrolled(stores: readonly UOp[], opts: readonly Opt[]): UOp[] {
  const by = new Map(opts.filter((o) => o.op === 'UNROLL').map((o) => [o.axis, o.amount]));
  if (!by.size) return [...stores];
  const memo = new Map<UOp, UOp>();
  const visit = (u: UOp): UOp => {
    let out = memo.get(u);
    if (out) return out;
    const src = u.src.map(visit);
    out = src.every((s, i) => s === u.src[i]) ? u : isAlu(u.op) ? alu(u.op as AluOp, src, u.dtype) : UOp.make(u.op, u.dtype, src, u.arg, u.shape);
    if (out.op === 'REDUCE') {
      let value = out.src[0]!;
      const ranges: UOp[] = [];
      for (const x of out.src.slice(1)) {
        const f = by.get(x.range.id);
        if (!f) { ranges.push(x); continue; }
        const { outer, at } = split(x, f);
        if (outer.op === 'RANGE') ranges.push(outer);
        const copies = Array.from({ length: f }, (_, u) => substitute(value, new Map([[x, at(u)]])));
        value = copies.reduce((a, b) => alu(out!.arg as AluOp, [a, b]));
      }
      out = ranges.length ? UOp.make('REDUCE', out.dtype, [value, ...ranges], out.arg, out.shape) : value;
    }
    memo.set(u, out);
    return out;
  };
  return stores.map(visit);
}

/** The stores one thread performs: for every upcast offset, the output index and the value per param. */
export function expandStores(k: Kernel): { index: UOp; values: UOp[] }[] {
  const launch = launchShape(k), stores = unrolled(k.stores, k.opts ?? []);
  const full = globalRanges(k.shape), reduced = globalRanges(launch);
  let combos: Map<UOp, UOp>[] = [new Map()];
  k.shape.forEach((_, d) => {
    const o = (k.opts ?? []).find((x) => x.op === 'UPCAST' && x.axis === d);
    if (full[d]!.op !== 'RANGE') return;
    const f = o?.amount ?? 1;
    combos = combos.flatMap((m) => Array.from({ length: f }, (_, u) => new Map([...m, [full[d]!, f === 1 ? reduced[d]! : add(mul(reduced[d]!, int(f)), int(u))]])));
  });
  const grouped = groupedRanges(k);
  for (const m of combos) for (const [r, g] of grouped) m.set(r, g);
  const memo = combos.map(() => new Map<UOp, UOp>());
  return combos.map((m, i) => ({
    index: substitute(k.storeIndex ?? linearIndex(k.shape, full), m, memo[i]),
    values: stores.map((v) => substitute(v, m, memo[i])),
  }));
}

/** The REDUCEs whose loop runs once per thread, not inside another reduce's loop: the ones GROUP may split. */
function topReduces(k: Kernel): UOp[] {
  const deps = rangeDeps(), all = new Set<UOp>();
  for (const s of k.stores) for (const u of s.toposort()) if (u.op === 'REDUCE') all.add(u);
  return [...all].filter((r) => [...deps(r)].every((x) => x.range.kind === 'global'));
}

/** GROUP's rewrite: each grouped reduce range becomes a 'group' range with the same id and extent. */
function groupedRanges(k: Kernel): Map<UOp, UOp> {
  const ids = new Set((k.opts ?? []).filter(isGroup).map((o) => o.axis));
  const out = new Map<UOp, UOp>();
  if (!ids.size) return out;
  for (const r of topReduces(k)) {
    for (const x of r.src.slice(1)) if (ids.has(x.range.id)) out.set(x, UOp.make('RANGE', 'i32', [], { ...x.range, kind: 'group' }));
  }
  return out;
}

/** What the heuristic reads from a backend's Caps. */
export interface OptCaps { readonly globalsAsLoops: boolean; readonly workgroupSize: number; readonly threads: number }

/** Threads below which a GPU kernel should not upcast further, and should group its reduces. */
const minThreads = 4096;
/** Most outputs (accumulators) per thread, most reduce steps per unrolled iteration, longest reduce range unrolled whole. */
const maxUpcast = 32, maxUnroll = 9, smallReduce = 4;
const floorPow2 = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(n, 1)));

/**
 * UPCAST and UNROLL actions by a cost model: the loads one thread issues per output it computes. Each candidate
 * upcasts global axes that some load inside a reduce ignores (by 2, 4 or 8, at most maxUpcast outputs and while
 * enough threads remain) and unrolls short reduce ranges whole; loads that come out equal (a weight shared by the
 * upcast pixels, the overlapping windows of unrolled conv taps) count once.
 */
function upcasts(k: Kernel, minLeft: number): Opt[] {
  const deps = rangeDeps(), globals = globalRanges(k.shape);
  const loads = new Set<UOp>(), reduceRanges = new Map<number, UOp>(), ignored = new Set<number>(), boolRanges = new Set<number>();
  for (const s of k.stores) {
    for (const u of s.toposort()) {
      if (u.op === 'LOAD') loads.add(u);
      if (u.op !== 'REDUCE') continue;
      for (const x of u.src.slice(1)) if (x.range.extent <= smallReduce) reduceRanges.set(x.range.id, x);
      if (u.dtype === 'bool') for (const x of u.src.slice(1)) boolRanges.add(x.range.id);   // no ALU folds bools (any/all)
      for (const l of u.src[0]!.toposort()) {
        if (l.op !== 'LOAD') continue;
        const d = deps(l);
        globals.forEach((g, axis) => { if (g.op === 'RANGE' && !d.has(g)) ignored.add(axis); });
      }
    }
  }
  if (!ignored.size) return [];
  for (const id of boolRanges) reduceRanges.delete(id);
  const rangeOf = (o: Opt): UOp => (o.op === 'UPCAST' ? globals[o.axis]! : reduceRanges.get(o.axis)!);
  // one range at a time, in a fixed order, memoized: candidates share most of their partial expansions
  const subMemo = new Map<string, UOp>(), splits = new Map<string, (u: number) => UOp>();
  const sub = (e: UOp, o: Opt, u: number): UOp => {
    const r = rangeOf(o), key = `${e.id}|${r.id}|${o.amount}|${u}`;
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
    for (const o of mine) exprs = exprs.flatMap((es) => Array.from({ length: o.amount }, (_, u) => es.map((e) => sub(e, o, u))));
    n = new Set(exprs.map((es) => es.map((e) => e.id).join())).size;
    copiesMemo.set(key, n);
    return n;
  };
  const cost = (opts: readonly Opt[]): number => {
    let total = 0;
    for (const l of loads) {
      let trips = 1;
      for (const r of deps(l)) if (r.range.kind !== 'global') trips *= r.range.extent / (opts.find((o) => o.op === 'UNROLL' && o.axis === r.range.id)?.amount ?? 1);
      total += copies(l, opts) * trips;
    }
    return total / opts.reduce((a, o) => a * (o.op === 'UPCAST' ? o.amount : 1), 1);
  };
  // candidates: innermost axes and bigger amounts first, so ties keep the first (contiguous, fewer actions) one
  let cands: Opt[][] = [[]];
  const outputs = k.shape.reduce((a, b) => a * b, 1);
  for (const axis of [...ignored].sort((a, b) => b - a)) {
    cands = cands.flatMap((c) => [...[8, 4, 2].filter((f) => k.shape[axis]! % f === 0).map((f) => [...c, { op: 'UPCAST', axis, amount: f } as Opt]), c]);
  }
  cands = cands.filter((c) => { const p = c.reduce((a, o) => a * o.amount, 1); return p <= maxUpcast && outputs / p >= minLeft; });
  for (const x of reduceRanges.values()) cands = cands.flatMap((c) => [c, [...c, { op: 'UNROLL', axis: x.range.id, amount: x.range.extent } as Opt]]);
  cands = cands.filter((c) => c.filter((o) => o.op === 'UNROLL').reduce((a, o) => a * o.amount, 1) <= maxUnroll);
  let best: Opt[] = [], bestCost = cost([]);
  for (const c of cands) {
    const v = cost(c);
    if (v < bestCost * (1 - 1e-9)) { best = c; bestCost = v; }
  }
  return best;
}

/**
 * UPCAST/UNROLL by the cost model above. On GPUs, when that leaves fewer outputs than the device runs threads
 * (caps.threads) and the reduces are long (GEMV, norm statistics, softmax rows, full sums), GROUP the longest
 * range of every top-level reduce over a power-of-two number of lanes, so the device gets its threads from the reduce.
 */
export function optimize(k: Kernel, caps: OptCaps): Kernel {
  // actions pinned by a contributed kernel (kind 'opts') replace the heuristic's where they are valid here
  if (k.opts?.length && !invalidOpts(k, k.opts, caps)) return k;
  if (k.opts?.length) k = { ...k, opts: undefined };
  const gpu = !caps.globalsAsLoops;
  const opts = upcasts(k, gpu ? minThreads : 1);
  const threads = opts.reduce((a, o) => a / (o.op === 'UPCAST' ? o.amount : 1), k.shape.reduce((a, b) => a * b, 1));
  if (gpu && threads <= minThreads) opts.push(...group(k, threads, caps));
  return opts.length ? { ...k, opts } : k;
}

/** GROUP actions for a kernel with `threads` outputs per launch, or none. Lanes get ≥ 4 iterations each. */
function group(k: Kernel, threads: number, caps: OptCaps): Opt[] {
  const top = topReduces(k);
  if (!top.length || top.some((r) => r.dtype === 'bool')) return [];
  const nestedRanges = new Set<UOp>();
  for (const s of k.stores) for (const u of s.toposort()) if (u.op === 'REDUCE' && !top.includes(u)) u.src.slice(1).forEach((x) => nestedRanges.add(x));
  const picks = top.map((r) => r.src.slice(1).filter((x) => !nestedRanges.has(x)).sort((a, b) => b.range.extent - a.range.extent)[0]);
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
  let unit = 0, other = 0;
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

/**
 * Why a list of actions cannot apply to a kernel on a device with these caps, or undefined: each names an axis it
 * can split evenly (a global axis for UPCAST, a reduce range for UNROLL and GROUP), at most 32 outputs per thread,
 * GROUP only on GPUs, by a power of two that fits a workgroup, once.
 */
export function invalidOpts(k: Kernel, opts: readonly Opt[], caps: OptCaps): string | undefined {
  const reduces = new Map<number, number>();
  for (const s of k.stores) for (const u of s.toposort()) if (u.op === 'RANGE' && u.range.kind === 'reduce') reduces.set(u.range.id, u.range.extent);
  let upcast = 1, groups = 0;
  for (const o of opts) {
    if (!Number.isInteger(o.amount) || o.amount < 2) return `${o.op}(${o.axis}, ${o.amount}): the amount must be an integer above 1`;
    if (o.op === 'UPCAST') {
      if (!(o.axis >= 0 && o.axis < k.shape.length) || k.shape[o.axis]! % o.amount) return `UPCAST(${o.axis}, ${o.amount}): axis ${o.axis} of [${k.shape}] does not split by ${o.amount}`;
      upcast *= o.amount;
    } else {
      const extent = reduces.get(o.axis);
      if (extent === undefined || extent % o.amount) return `${o.op}(${o.axis}, ${o.amount}): no reduce range ${o.axis} that splits by ${o.amount}`;
      if (isGroup(o)) {
        if (caps.globalsAsLoops) return `${o.op}: lanes of a workgroup are a GPU's`;
        if (o.amount & (o.amount - 1) || o.amount > caps.workgroupSize) return `${o.op}(${o.axis}, ${o.amount}): lanes must be a power of two up to ${caps.workgroupSize}`;
        groups++;
      }
    }
  }
  if (upcast > maxUpcast) return `UPCAST: ${upcast} outputs per thread, at most ${maxUpcast}`;
  if (new Set(opts.map((o) => `${o.op}${o.axis}`)).size !== opts.length) return 'an axis is split twice';
  return groups > 1 && new Set(opts.filter(isGroup).map((o) => o.amount)).size > 1 ? 'GROUP: one lane count per kernel' : undefined;
}
