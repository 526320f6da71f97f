// Kernel optimizations as listed actions (tinygrad's OptOps, starting with UPCAST), a heuristic that
// picks them, and the rewrite that applies them: upcasting axis d by f replaces its range g with
// g'*f + u for u < f, so one thread computes f outputs and loads independent of d are shared.
import { add, int, mul, alu } from './alu.js';
import type { Kernel, Opt } from './kernel.js';
import { launchShape } from './kernel.js';
import { globalRanges, linearIndex } from './linearize.js';
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
    const o = (k.opts ?? []).find((x) => x.axis === d);
    if (full[d]!.op !== 'RANGE') return;
    const f = o?.amount ?? 1;
    combos = combos.flatMap((m) => Array.from({ length: f }, (_, u) => new Map([...m, [full[d]!, f === 1 ? reduced[d]! : add(mul(reduced[d]!, int(f)), int(u))]])));
  });
  const memo = combos.map(() => new Map<UOp, UOp>());
  return combos.map((m, i) => ({
    index: substitute(linearIndex(k.shape, full), m, memo[i]),
    values: k.stores.map((v) => substitute(v, m, memo[i])),
  }));
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

/**
 * Upcast by 4 the (at most two) axes with the most reusable loads, while enough threads remain
 * (`minThreads`: 1 on the CPU, thousands on GPUs).
 */
export function optimize(k: Kernel, minThreads: number): Kernel {
  const opts: Opt[] = [];
  let threads = k.shape.reduce((a, b) => a * b, 1);
  for (const axis of reusedAxes(k)) {
    if (opts.length === 2) break;
    const amount = 4;
    if (k.shape[axis]! % amount || threads / amount < minThreads) continue;
    opts.push({ op: 'UPCAST', axis, amount });
    threads /= amount;
  }
  return opts.length ? { ...k, opts } : k;
}
