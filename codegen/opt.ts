// Kernel optimizations as listed actions (tinygrad's OptOps, starting with UPCAST), a heuristic that
// picks them, and the rewrite that applies them: upcasting axis d by f replaces its range g with
// g'*f + u for u < f, so one thread computes f outputs and loads independent of d are shared.
import { add, int, mul, alu } from './alu.js';
import type { Kernel, Opt } from './kernel.js';
import { launchShape } from './kernel.js';
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

/** The stores one thread performs: for every upcast offset, the output index and the value per param. */
export function expandStores(k: Kernel): { index: UOp; values: UOp[] }[] {
  const launch = launchShape(k);
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
    index: substitute(linearIndex(k.shape, full), m, memo[i]),
    values: k.stores.map((v) => substitute(v, m, memo[i])),
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
  const ids = new Set((k.opts ?? []).filter((o) => o.op !== 'UPCAST').map((o) => o.axis));
  const out = new Map<UOp, UOp>();
  if (!ids.size) return out;
  for (const r of topReduces(k)) {
    for (const x of r.src.slice(1)) if (ids.has(x.range.id)) out.set(x, UOp.make('RANGE', 'i32', [], { ...x.range, kind: 'group' }));
  }
  return out;
}

/** Loads inside reduces whose index ignores a global axis: upcasting that axis reuses them. */
function reusedAxes(k: Kernel): number[] {
  const globals = globalRanges(k.shape);
  const counts = new Map<number, number>();
  const inReduce = new Set<UOp>();
  for (const s of k.stores) for (const u of s.toposort()) if (u.op === 'REDUCE') for (const x of u.src[0]!.toposort()) inReduce.add(x);
  for (const u of inReduce) {
    if (u.op !== 'LOAD') continue;
    const vars = new Set(u.src[1]!.toposort().filter((x) => x.op === 'RANGE'));
    globals.forEach((g, d) => { if (g.op === 'RANGE' && !vars.has(g)) counts.set(d, (counts.get(d) ?? 0) + 1); });
  }
  return [...counts].sort((a, b) => b[1] - a[1] || b[0] - a[0]).map(([d]) => d);
}

/** What the heuristic reads from a backend's Caps. */
export interface OptCaps { readonly globalsAsLoops: boolean; readonly workgroupSize: number; readonly threads: number }

/** Threads below which a GPU kernel should not upcast further, and should group its reduces. */
const minThreads = 4096;
const floorPow2 = (n: number): number => 2 ** Math.floor(Math.log2(Math.max(n, 1)));

/**
 * Upcast by 4 the (at most two) axes with the most reusable loads, while enough threads remain. On GPUs,
 * when that leaves fewer outputs than the device runs threads (caps.threads) and the reduces are long (GEMV,
 * norm statistics, softmax rows, full sums), GROUP the longest range of every
 * top-level reduce over a power-of-two number of lanes, so the device gets its threads from the reduce.
 */
export function optimize(k: Kernel, caps: OptCaps): Kernel {
  const opts: Opt[] = [];
  const gpu = !caps.globalsAsLoops;
  let threads = k.shape.reduce((a, b) => a * b, 1);
  for (const axis of reusedAxes(k)) {
    if (opts.length === 2) break;
    const amount = 4;
    if (k.shape[axis]! % amount || threads / amount < (gpu ? minThreads : 1)) continue;
    opts.push({ op: 'UPCAST', axis, amount });
    threads /= amount;
  }
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
