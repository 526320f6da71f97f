// Cuts the lazy graph into fused kernels. Each realized node is a kernel root; everything below it that is not
// realized is computed inline (runtime/lower.ts). Named rules (cutRules) decide what must be realized: what the
// user marks, a contributed kernel, a reduce broadcast or nested in a loop, costly work reused across a loop, a
// reduce two kernels would both compute, the device's binding cap. Kernels with one iteration space then merge
// into multi-output kernels when one reads the other at the same index.
import type { Caps } from '../backends/backend.js';
import type { DType } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import { globalRanges, linearIndex } from '../codegen/kernel.js';
import { type Bound, type UOp, argKey, isMovement } from '../codegen/uop.js';
import { ShardError, chunkElems, rowElems, shard } from '../codegen/shard.js';
import { customKernel, pinned } from './custom.js';
import { type Built, type LoweringContext, emptyBuilt, lowerKernel } from './lower.js';
import { compositeOps, opTags } from './tags.js';

export type BufferRef =
  | { readonly kind: 'input'; readonly slot: number }
  | { readonly kind: 'output'; readonly index: number }
  | { readonly kind: 'temp'; readonly id: number };
/** `vars[i]`: the schedule's variable slot (graphKey's `binds` order) that the kernel's variable i reads. */
export interface ScheduleItem {
  readonly kernel: Kernel;
  readonly bufs: readonly BufferRef[];
  readonly vars: readonly number[];
  readonly frees: readonly number[];
}
export type OutputPlan = { readonly kind: 'kernel' } | { readonly kind: 'input'; readonly slot: number };
/**
 * The scheduler's cutting rules: each realizes a node (gives it a buffer of its own) instead of fusing it into its
 * users, for the reason it states. DEBUG=1 prints every cut with its rule, the op and the shape.
 */
export const cutRules = {
  contiguous: 'the user asked for a buffer (contiguous())',
  'contributed kernel': 'a CUSTOM node runs as a kernel of its own, over realized inputs',
  'reduce under a broadcast or loop':
    'fused, the reduce would be recomputed per broadcast element or per step of a loop',
  'costly work out of a loop':
    'transcendental work that does not depend on the enclosing reduce loop would rerun every step',
  'shared reduce': 'two kernels would each compute the same reduce',
  'binding cap': 'the kernel would bind more buffers than the device allows',
  'split reduce': 'a long reduce adds chunks in parallel first (f32 partial sums stay exact), then the chunk sums',
} as const;
export type CutRule = keyof typeof cutRules;
/** A cut: the rule, and the op and shape of what it realized. */
export interface Cut {
  readonly rule: CutRule;
  readonly node: string;
}

export interface Schedule {
  readonly items: readonly ScheduleItem[];
  /** The cuts besides the outputs (for DEBUG=1). */
  readonly cuts: readonly Cut[];
  /** Intermediates: dtype, elements, and elements per row (how a buffer too big for one device buffer chunks). */
  readonly temps: readonly { readonly dtype: DType; readonly numel: number; readonly row: number }[];
  readonly outputs: readonly OutputPlan[];
}
export class Scheduler {
  readonly #leaves: ReadonlyMap<UOp, number>;
  readonly #binds: ReadonlyMap<UOp, number>;
  readonly #realized = new Set<UOp>();
  readonly #cuts: Cut[] = [];
  readonly #caps: Caps;
  readonly #lowering: LoweringContext;
  /** The binding cap cuts only once the other rules settled: an early, wide build must not force a cut. */
  #capped = false;

  /** leaves: realized buffers by input slot; binds: bound variables by variable slot. */
  constructor(leaves: ReadonlyMap<UOp, number>, caps: Caps, binds: ReadonlyMap<UOp, number> = new Map()) {
    this.#leaves = leaves;
    this.#binds = binds;
    this.#caps = caps;
    this.#lowering = {
      leaves,
      realized: this.#realized,
      cut: (u, rule) => this.#cut(u, rule),
      splitReduces: !caps.globalsAsLoops,
    };
  }

  /** Realizes u by `rule` (a no-op when it already is); true when it was not realized before. */
  #cut(u: UOp, rule: CutRule): boolean {
    if (this.#realized.has(u)) return false;
    this.#realized.add(u);
    this.#cuts.push({ rule, node: `${opTags.get(u) ?? u.op.toLowerCase()} [${u.shape.join(', ')}]` });
    return true;
  }

  run(outputs: readonly UOp[]): Schedule {
    for (const o of outputs) if (!this.#leaves.has(o)) this.#realized.add(o);
    for (const u of this.#above(outputs)) if (u.op === 'CONTIGUOUS') this.#cut(u, 'contiguous');
    let groups: Built[] = [];
    for (const capped of [false, true]) {
      this.#capped = capped;
      for (;;) {
        const before = this.#realized.size;
        groups = this.#merge(this.#buildAll());
        const seen = new Map<UOp, Built>();
        for (const b of groups) {
          for (const r of b.reduces) {
            if (seen.has(r) && seen.get(r) !== b) this.#cut(r, 'shared reduce');
            seen.set(r, b);
          }
        }
        if (this.#realized.size === before) break;
      }
    }
    return this.#plan(groups, outputs);
  }

  /** Every node above the leaves, sources first (never walks into what earlier realizes computed). */
  #above(roots: readonly UOp[]): UOp[] {
    const out: UOp[] = [],
      seen = new Set<UOp>();
    const visit = (u: UOp): void => {
      if (seen.has(u) || this.#leaves.has(u)) return;
      seen.add(u);
      for (const s of u.src) visit(s);
      out.push(u);
    };
    roots.forEach(visit);
    return out;
  }

  #buildAll(): Map<UOp, Built> {
    const built = new Map<UOp, Built>();
    const work = [...this.#realized];
    while (work.length) {
      const r = work.pop()!;
      if (built.has(r)) continue;
      const b = r.op === 'CUSTOM' ? this.#custom(r) : this.#buildWithinCap([r]);
      built.set(r, b);
      work.push(...b.discovered);
    }
    return built;
  }

  /** Rule "contributed kernel": a CUSTOM node is a kernel of its own over its inputs, each realized. */
  #custom(r: UOp): Built {
    const b: Built = { ...emptyBuilt([r]), inputs: [...r.src], custom: true };
    for (const u of r.src) {
      if (this.#leaves.has(u)) continue;
      b.loaded.add(u);
      if (this.#cut(u, 'contributed kernel')) b.discovered.push(u);
    }
    return b;
  }

  #buildWithinCap(roots: readonly UOp[]): Built {
    const cuts = new Set<UOp>(); // realized to fit the cap (and what discarded builds discovered)
    for (;;) {
      const b = lowerKernel(roots, this.#lowering, 'kernel');
      const [excess, why] = this.#capped ? this.#excess(b) : [0, ''];
      if (excess <= 0) {
        b.discovered.push(...[...cuts].filter((c) => !b.discovered.includes(c)));
        return b;
      }
      const cut = this.#bindingCut(roots, b, excess);
      if (!cut) throw new Error(why);
      this.#cut(cut, 'binding cap');
      for (const c of [cut, ...b.discovered]) cuts.add(c);
    }
  }

  /** Buffers a kernel binds: outputs, inputs and, where index checks report through one, the status word. */
  #bindings(b: Built): number {
    return b.roots.length + b.inputs.length + (b.checked && this.#caps.statusBinding ? 1 : 0);
  }

  /** The chunks a node's buffer is stored in (codegen/shard.ts): 1 unless it is larger than one device buffer. */
  #chunks(u: UOp): number {
    const max = this.#caps.maxBufferBytes;
    return max ? Math.ceil(u.numel / chunkElems(u.numel, rowElems(u.shape), max)) : 1;
  }

  /**
   * Bindings a kernel needs beyond the device's: too many buffers, or (where some are stored in chunks) an output
   * element whose loads alone reach more chunks than a launch may bind, so no shard fits.
   */
  #excess(b: Built): [number, string] {
    const plain = this.#bindings(b) - this.#caps.maxBuffers;
    const why =
      `schedule: kernel ${kernelOf(b).name} needs ${this.#bindings(b)} buffers but the device allows ` +
      `${this.#caps.maxBuffers}`;
    if (plain > 0 || ![...b.roots, ...b.inputs].some((u) => this.#chunks(u) > 1)) return [plain, why];
    const layouts = [...b.roots, ...b.inputs].map((u) => ({
      numel: u.numel,
      chunkElems: chunkElems(u.numel, rowElems(u.shape), this.#caps.maxBufferBytes!),
    }));
    try {
      shard(kernelOf(b), layouts, this.#caps);
      return [0, ''];
    } catch (e) {
      if (e instanceof ShardError) return [e.bindings - e.budget, e.message];
      throw e;
    }
  }

  /**
   * Rule "binding cap": the inline node to realize so the kernel binds fewer buffers. Candidates write no more than
   * the largest tensor they read (a normalized input or a sum of embeddings, never a broadcast product such as a
   * conv's window × weight). The smallest candidate that frees enough bindings at once wins; failing that, the one
   * freeing most (the cut then repeats). Only when no node qualifies does the widest subtree go.
   */
  #bindingCut(roots: readonly UOp[], b: Built, need: number): UOp | undefined {
    const memo = new Map<UOp, Set<UOp>>();
    const reads = (u: UOp): Set<UOp> => {
      let s = memo.get(u);
      if (s) return s;
      s = this.#leaves.has(u) || this.#realized.has(u) ? new Set([u]) : new Set(u.src.flatMap((x) => [...reads(x)]));
      memo.set(u, s);
      return s;
    };
    let best: UOp | undefined,
      widest: UOp | undefined,
      bestSaved = 0,
      widestN = 1;
    // a buffer in chunks weighs as its chunks: realizing what reads it frees them all
    const weight = (xs: Iterable<UOp>): number => [...xs].reduce((a, x) => a + this.#chunks(x), 0);
    const total = weight([...b.roots, ...b.inputs]);
    const better = (u: UOp, saved: number): boolean => {
      if (!best) return true;
      const [enough, bestEnough] = [saved >= need, bestSaved >= need];
      if (enough !== bestEnough) return enough;
      return enough
        ? u.numel < best.numel || (u.numel === best.numel && saved > bestSaved)
        : saved > bestSaved || (saved === bestSaved && u.numel < best.numel);
    };
    for (const root of roots) {
      for (const u of this.#above([root])) {
        if (
          roots.includes(u) ||
          this.#leaves.has(u) ||
          this.#realized.has(u) ||
          isMovement(u.op) ||
          u.op === 'CONST' ||
          u.op === 'BIND'
        )
          continue;
        const r = reads(u),
          n = weight(r),
          saved = n - this.#chunks(u);
        if (saved < 1 || n >= total) continue;
        if (n > widestN) {
          widest = u;
          widestN = n;
        }
        if (u.numel > Math.max(...[...r].map((x) => x.numel))) continue;
        if (better(u, saved)) {
          best = u;
          bestSaved = saved;
        }
      }
    }
    return best ?? widest;
  }

  #merge(built: Map<UOp, Built>): Built[] {
    const groupOf = new Map<UOp, Built>();
    for (const b of built.values()) for (const r of b.roots) groupOf.set(r, b);
    const deps = (b: Built): Set<Built> =>
      new Set([...b.loaded].map((n) => groupOf.get(n)!).filter((g) => g && g !== b));
    const reaches = (from: Built, to: ReadonlySet<Built>, seen = new Set<Built>()): boolean => {
      for (const d of deps(from)) {
        if (to.has(d)) return true;
        if (!seen.has(d)) {
          seen.add(d);
          if (reaches(d, to, seen)) return true;
        }
      }
      return false;
    };
    const tryMerge = (a: Built, c: Built): boolean => {
      if (a === c || a.custom || c.custom || a.roots[0]!.shape.join() !== c.roots[0]!.shape.join()) return false;
      const m = lowerKernel([...a.roots, ...c.roots], this.#lowering, 'merge');
      if (m.invalid || this.#excess(m)[0] > 0) return false;
      const pair = new Set([a, c]);
      for (const d of deps(m)) if (!pair.has(d) && reaches(d, pair)) return false; // would need a kernel between them
      for (const r of m.roots) groupOf.set(r, m);
      return true;
    };
    // producer -> consumer at the same index, then siblings that would both compute one reduce;
    // a pair that failed once is not tried again (groups only grow)
    const failed = new Set<string>();
    const attempt = (a: Built, c: Built): boolean => {
      const key = `${a.roots.map((r) => r.id)}|${c.roots.map((r) => r.id)}`;
      if (failed.has(key)) return false;
      if (tryMerge(a, c)) return true;
      failed.add(key);
      return false;
    };
    const alive = (g: Built): boolean => groupOf.get(g.roots[0]!) === g;
    for (let progress = true; progress; ) {
      progress = false;
      for (const c of new Set(groupOf.values())) {
        if (!alive(c)) continue;
        for (const n of c.loaded) {
          const a = groupOf.get(n);
          if (a && a !== c && attempt(a, c)) {
            progress = true;
            break;
          }
        }
      }
    }
    const byReduce = new Map<UOp, Built[]>();
    for (const g of new Set(groupOf.values()))
      for (const r of g.reduces) byReduce.set(r, [...(byReduce.get(r) ?? []), g]);
    for (const gs of byReduce.values()) {
      for (let i = 1; i < gs.length; i++) {
        const a = groupOf.get(gs[0]!.roots[0]!)!,
          c = groupOf.get(gs[i]!.roots[0]!)!;
        if (a !== c) attempt(a, c);
      }
    }
    // order: a group runs after every group it reads
    const order: Built[] = [],
      placed = new Set<Built>();
    const visit = (g: Built): void => {
      if (placed.has(g)) return;
      placed.add(g);
      for (const d of deps(g)) visit(d);
      order.push(g);
    };
    for (const g of new Set(groupOf.values())) visit(g);
    return order;
  }

  #plan(groups: readonly Built[], outputs: readonly UOp[]): Schedule {
    const outIndex = new Map(outputs.map((o, i) => [o, i] as [UOp, number]));
    const planOut: OutputPlan[] = outputs.map((o) =>
      this.#leaves.has(o) ? { kind: 'input', slot: this.#leaves.get(o)! } : { kind: 'kernel' },
    );
    const temps: { dtype: DType; numel: number; row: number }[] = [],
      tempOf = new Map<UOp, number>();
    const ref = (n: UOp): BufferRef => {
      if (this.#leaves.has(n)) return { kind: 'input', slot: this.#leaves.get(n)! };
      if (outIndex.has(n)) return { kind: 'output', index: outIndex.get(n)! };
      if (!tempOf.has(n)) {
        tempOf.set(n, temps.length);
        temps.push({ dtype: n.dtype, numel: n.numel, row: rowElems(n.shape) });
      }
      return { kind: 'temp', id: tempOf.get(n)! };
    };
    const kept: { g: Built; bufs: BufferRef[] }[] = [];
    for (const g of groups) {
      // an output that only re-reads an input buffer in order, never gated off, is that buffer: no kernel, no copy
      const only = g.roots.length === 1 && outIndex.has(g.roots[0]!) ? g.stores[0]! : undefined;
      if (
        only?.op === 'LOAD' &&
        only.src[2]!.isConst &&
        only.src[2]!.constValue === true &&
        g.inputs.length === 1 &&
        this.#leaves.has(g.inputs[0]!) &&
        g.inputs[0]!.numel === g.roots[0]!.numel &&
        only.src[1] === linearIndex(g.roots[0]!.shape, globalRanges(g.roots[0]!.shape))
      ) {
        planOut[outIndex.get(g.roots[0]!)!] = { kind: 'input', slot: this.#leaves.get(g.inputs[0]!)! };
        continue;
      }
      kept.push({ g, bufs: [...g.roots, ...g.inputs].map(ref) });
    }
    const lastUse = new Map<number, number>();
    kept.forEach(({ bufs }, i) =>
      bufs.forEach((r) => {
        if (r.kind === 'temp') lastUse.set(r.id, i);
      }),
    );
    const items = kept.map(
      ({ g, bufs }, i): ScheduleItem => ({
        kernel: g.custom ? customKernel(g.roots[0]!, this.#caps) : pin(kernelOf(g), g.roots),
        bufs,
        vars: g.binds.map((n) => this.#binds.get(n)!),
        frees: [...lastUse].filter(([, last]) => last === i).map(([id]) => id),
      }),
    );
    return { items, temps, outputs: planOut, cuts: this.#cuts };
  }
}

/** A kernel computing a composite op that a contributed kernel of kind 'opts' pinned, with those actions. */
function pin(k: Kernel, roots: readonly UOp[]): Kernel {
  const p = roots.map((r) => pinned.get(r)).find((x) => x);
  return p ? { ...k, name: `c_${p.name}_${k.shape.filter((n) => n > 1).join('x') || '1'}`, opts: p.opts } : k;
}

function kernelOf(g: Built): Kernel {
  const shape = g.roots[0]!.shape;
  const kind = g.reduceExtents.length ? 'r' : 'e';
  const sizes =
    (shape.filter((n) => n > 1).join('x') || '1') +
    (g.reduceExtents.length ? `_${g.reduceExtents.slice(0, 3).join('x')}` : '');
  const composite = g.tags.filter((t) => compositeOps.has(t));
  const ordered = [...composite, ...g.tags.filter((t) => !compositeOps.has(t))];
  const ops = ordered.length ? ordered.slice(0, 4) : [g.roots[0]!.op.toLowerCase()];
  return {
    name: [kind, ...ops, sizes].join('_'),
    ops: composite.length ? composite : g.tags,
    shape,
    params: [
      ...g.roots.map((r) => ({ dtype: r.dtype, numel: r.numel, write: true })),
      ...g.inputs.map((n) => ({ dtype: n.dtype, numel: n.numel, write: false })),
    ],
    vars: g.binds.map((n) => n.dtype),
    stores: g.stores,
  };
}

/**
 * A structural key of the graph above its leaves (realized buffers) and bound variables (by slot, not value), so
 * equal graphs share one schedule whatever the variables' values.
 */
export function graphKey(
  outputs: readonly UOp[],
  isLeaf: (u: UOp) => boolean,
): { key: string; leaves: UOp[]; binds: UOp[] } {
  const pos = new Map<UOp, number>(),
    leaves: UOp[] = [],
    binds: UOp[] = [],
    parts: string[] = [];
  const visit = (u: UOp): number => {
    let p = pos.get(u);
    if (p !== undefined) return p;
    if (u.op === 'BIND') {
      const { min, max } = u.arg as unknown as Bound;
      parts.push(`V${binds.length}:${u.dtype}:${min}:${max}`);
      binds.push(u);
    } else if (isLeaf(u)) {
      parts.push(`L${leaves.length}:${u.dtype}:${u.shape}`);
      leaves.push(u);
    } else {
      const src = u.src.map(visit);
      parts.push(`${u.op}:${u.dtype}:${u.shape}:${argKey(u.arg)}:${src}`);
    }
    p = parts.length - 1;
    pos.set(u, p);
    return p;
  };
  const outs = outputs.map(visit);
  return { key: `${parts.join(';')}=>${outs}`, leaves, binds };
}
