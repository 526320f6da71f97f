// Lowers one kernel's roots from the tensor graph to kernel IR: indices pushed through movement ops, reduces as
// loops, leaves and realized nodes as loads, bound values as variables. Where fusing a node would compute it
// wrongly or wastefully, a named rule (schedule.ts, CutRule) realizes it instead and the kernel loads it.
import { alu } from '../codegen/alu.js';
import { globalRanges, linearIndex } from '../codegen/kernel.js';
import { type AluOp, type Bound, type ReduceOp, UOp, constOf, transcendental } from '../codegen/uop.js';
import type { CutRule } from './schedule.js';
import { splitReduce } from './split.js';
import { opTags } from './tags.js';
import { sourceIndex } from './view.js';

/** One kernel as lowering left it: what it stores, reads and computes inline. */
export interface Built {
  readonly roots: readonly UOp[];
  readonly stores: UOp[];
  readonly inputs: UOp[]; // params after the roots
  readonly binds: UOp[]; // BIND nodes read, in VAR index order
  readonly loaded: Set<UOp>; // realized non-leaf nodes read (dependencies)
  readonly reduces: Set<UOp>; // REDUCE_AXIS nodes computed inline
  readonly tags: string[];
  readonly reduceExtents: number[];
  readonly discovered: UOp[]; // nodes this build decided to realize
  invalid: boolean; // read a member of its own group at another index
  checked: boolean; // has index checks (a gather)
  readonly custom?: boolean; // a contributed kernel (a CUSTOM root): never merged, never sharded
}

export const emptyBuilt = (roots: readonly UOp[]): Built => ({
  roots,
  stores: [],
  inputs: [],
  binds: [],
  loaded: new Set(),
  reduces: new Set(),
  tags: [],
  reduceExtents: [],
  discovered: [],
  invalid: false,
  checked: false,
});

/** What lowering asks of the scheduler: the nodes that have buffers, and realizing one more by a rule. */
export interface LoweringContext {
  readonly leaves: ReadonlyMap<UOp, number>;
  readonly realized: ReadonlySet<UOp>;
  /** Realizes u by `rule`; true when it was not realized before. */
  cut(u: UOp, rule: CutRule): boolean;
  /** Whether long reduces run as two kernels (splitReduce: on GPUs, whose accumulators are f32). */
  readonly splitReduces: boolean;
}

/**
 * 'kernel' lowers a kernel, realizing what the rules say. 'merge' tries two kernels as one: a merge that must
 * realize a node is invalid, since the pair would then not be the kernels it joins (the cut itself stands).
 */
export type LoweringMode = 'kernel' | 'merge';

const varsMemo = new WeakMap<UOp, ReadonlySet<UOp>>();
/** The RANGEs an index expression depends on. */
function varsOf(u: UOp): ReadonlySet<UOp> {
  let v = varsMemo.get(u);
  if (!v) {
    v = u.op === 'RANGE' ? new Set([u]) : new Set(u.src.flatMap((s) => [...varsOf(s)]));
    varsMemo.set(u, v);
  }
  return v;
}
const rangesOf = (idx: readonly UOp[]): ReadonlySet<UOp> => new Set(idx.flatMap((x) => [...varsOf(x)]));
const ids = (us: readonly UOp[]): string => us.map((u) => u.id).join(',');

/** Kernel indices and loop counters are 32-bit integers: a kernel over more elements would wrap them. */
function indexable(shape: readonly number[], what: string): void {
  const n = shape.reduce((a, b) => a * b, 1);
  if (n > 2 ** 31 - 1)
    throw new Error(
      `realize: a kernel over [${shape.join(', ')}] (${n} ${what}): polygrad indexes with 32-bit integers, at most ` +
        '2^31 - 1 (split the tensor)',
    );
}

/** Lowers `roots` (one shape) into a kernel. */
export function lowerKernel(roots: readonly UOp[], ctx: LoweringContext, mode: LoweringMode): Built {
  return new Lowering(roots, ctx, mode).run();
}

class Lowering {
  readonly #b: Built;
  readonly #shape: readonly number[];
  readonly #globals: readonly UOp[];
  /** The kernel's global loops (those of extent > 1). */
  readonly #kernelRanges: readonly UOp[];
  readonly #group: ReadonlySet<UOp>;
  readonly #params = new Map<UOp, UOp>();
  readonly #vars = new Map<UOp, UOp>();
  readonly #memo = new Map<string, UOp>();
  readonly #costly = new Map<UOp, boolean>();
  /** Numbered per kernel in lowering order: the same kernel gets the same ids in any schedule. */
  #reduceRanges = 0;

  constructor(
    readonly roots: readonly UOp[],
    readonly ctx: LoweringContext,
    readonly mode: LoweringMode,
  ) {
    this.#b = emptyBuilt(roots);
    this.#shape = roots[0]!.shape;
    indexable(this.#shape, 'elements');
    this.#globals = globalRanges(this.#shape);
    this.#kernelRanges = this.#globals.filter((g) => g.op === 'RANGE');
    this.#group = new Set(roots);
    roots.forEach((r, i) => this.#params.set(r, UOp.make('PARAM', r.dtype, [], i)));
  }

  run(): Built {
    for (const r of this.roots) this.#b.stores.push(this.#lower(r, this.#globals, constOf(true, 'bool'), []));
    return this.#b;
  }

  #load(node: UOp, idx: readonly UOp[], gate: UOp): UOp {
    const b = this.#b;
    let p = this.#params.get(node);
    if (!p) {
      p = UOp.make('PARAM', node.dtype, [], this.roots.length + b.inputs.length);
      this.#params.set(node, p);
      b.inputs.push(node);
    }
    if (!this.ctx.leaves.has(node)) b.loaded.add(node);
    if (this.#group.has(node)) b.invalid = true;
    return UOp.make('LOAD', node.dtype, [p, linearIndex(node.shape, idx), gate]);
  }

  #variable(node: UOp): UOp {
    let v = this.#vars.get(node);
    if (!v) {
      const { min, max } = node.arg as unknown as Bound;
      v = UOp.make('VAR', node.dtype, [], { index: this.#b.binds.length, min, max });
      this.#vars.set(node, v);
      this.#b.binds.push(node);
    }
    return v;
  }

  /** Gives node a buffer by `rule` (its own kernel); this one loads it where it reads it. */
  #cutHere(node: UOp, rule: CutRule): void {
    if (this.mode === 'merge') this.#b.invalid = true;
    this.ctx.cut(node, rule);
    this.#b.discovered.push(node);
  }

  #realize(node: UOp, idx: readonly UOp[], gate: UOp, rule: CutRule): UOp {
    this.#cutHere(node, rule);
    return this.#load(node, idx, gate);
  }

  #isIdentity(idx: readonly UOp[], gate: UOp): boolean {
    return gate.isConst && idx.every((x, i) => x === this.#globals[i]);
  }

  /** Transcendental work below u that this kernel would compute (not loaded). */
  #expensive(u: UOp): boolean {
    if (this.ctx.leaves.has(u) || this.ctx.realized.has(u)) return false;
    let c = this.#costly.get(u);
    if (c === undefined) this.#costly.set(u, (c = transcendental.has(u.op) || u.src.some((s) => this.#expensive(s))));
    return c;
  }

  #tag(u: UOp): void {
    const t = opTags.get(u);
    if (t && !this.#b.tags.includes(t)) this.#b.tags.push(t);
  }

  /** `node` at index `idx` where `gate` holds, inside the reduce loops `enc`. */
  #lower(node: UOp, idx: readonly UOp[], gate: UOp, enc: readonly UOp[]): UOp {
    const { leaves, realized } = this.ctx;
    if (node.op === 'BIND') return this.#variable(node);
    if (node.op === 'CUSTOM' && !realized.has(node)) return this.#realize(node, idx, gate, 'contributed kernel');
    if (leaves.has(node)) return this.#load(node, idx, gate);
    if (realized.has(node) && !(this.#group.has(node) && this.#isIdentity(idx, gate)))
      return this.#load(node, idx, gate);
    const key = `${node.id}|${ids(idx)}|${gate.id}`;
    let out = this.#memo.get(key);
    if (!out) {
      out = this.#compute(node, idx, gate, enc);
      this.#memo.set(key, out);
    }
    return out;
  }

  #compute(node: UOp, idx: readonly UOp[], gate: UOp, enc: readonly UOp[]): UOp {
    const op = node.op;
    switch (op) {
      case 'CONST':
        return constOf(node.constValue, node.dtype);
      case 'ARANGE':
        return idx[0]!;
      case 'CONTIGUOUS':
        return this.#lower(node.src[0]!, idx, gate, enc);
      case 'BUFFER':
        throw new Error(
          `realize: an input of shape [${node.shape}] (${node.dtype}) was disposed before the tensors computed from it`,
        );
      case 'RESHAPE':
      case 'PERMUTE':
      case 'EXPAND':
      case 'PAD':
      case 'SHRINK':
      case 'FLIP':
      case 'WINDOW':
        return this.#movement(node, idx, gate, enc);
      case 'REDUCE_AXIS':
        return this.#reduce(node, idx, gate, enc);
      case 'GATHER':
        return this.#gather(node, idx, gate, enc);
      // BIND and CUSTOM stop in #lower; kernel-level nodes never appear in a tensor graph
      case 'BIND':
      case 'CUSTOM':
      case 'RANGE':
      case 'PARAM':
      case 'VAR':
      case 'LOAD':
      case 'REDUCE':
      case 'CHECKED':
      case 'SHARED':
      case 'MMA':
        throw new Error(`schedule: cannot compute ${op}`);
      default: {
        op satisfies AluOp;
        if (enc.length && node.src.length) {
          const v = rangesOf(idx);
          if ([...this.#kernelRanges, ...enc].some((r) => !v.has(r)) && this.#expensive(node)) {
            return this.#realize(node, idx, gate, 'costly work out of a loop');
          }
        }
        this.#tag(node);
        return alu(
          op,
          node.src.map((s) => this.#lower(s, idx, gate, enc)),
          node.dtype,
        );
      }
    }
  }

  #movement(node: UOp, idx: readonly UOp[], gate: UOp, enc: readonly UOp[]): UOp {
    const s = sourceIndex(node, idx);
    if (s.valid.isConst && !s.valid.constValue) return constOf(0, node.dtype); // all padding here
    const g = alu('AND', [gate, s.valid]);
    const inner = this.#lower(node.src[0]!, s.idx, g, enc);
    if (s.valid.isConst) return inner;
    if (inner.op === 'LOAD' && inner.src[2] === g) return inner; // a gated load already reads 0 outside
    return alu('WHERE', [s.valid, inner, constOf(0, node.dtype)]);
  }

  #reduce(node: UOp, idx: readonly UOp[], gate: UOp, enc: readonly UOp[]): UOp {
    if (!this.#group.has(node) || !this.#isIdentity(idx, gate)) {
      const v = rangesOf(idx);
      if (this.#kernelRanges.some((g) => !v.has(g)) || enc.some((r) => v.has(r))) {
        return this.#realize(node, idx, gate, 'reduce under a broadcast or loop');
      }
    }
    const split = this.ctx.splitReduces ? splitReduce(node) : undefined;
    if (split) {
      this.#cutHere(split.partial, 'split reduce');
      return this.#lower(split.outer, idx, gate, enc);
    }
    this.#tag(node);
    this.#b.reduces.add(node);
    const { op, axes } = node.arg as { op: ReduceOp; axes: number[] };
    const src = node.src[0]!,
      shape = this.#shape;
    indexable(
      axes.map((a) => src.shape[a]!),
      'reduced elements per output',
    );
    const ranges = axes.map((a) =>
      UOp.make('RANGE', 'i32', [], { id: shape.length + this.#reduceRanges++, extent: src.shape[a]!, kind: 'reduce' }),
    );
    const sidx = idx.map((x, i) => (axes.includes(i) ? ranges[axes.indexOf(i)]! : x));
    // the loop sits only inside what its index depends on (never another reduce: that was realized above)
    const body = this.#lower(src, sidx, gate, ranges);
    this.#b.reduceExtents.push(...ranges.map((r) => r.range.extent));
    return UOp.make('REDUCE', node.dtype, [body, ...ranges], op);
  }

  #gather(node: UOp, idx: readonly UOp[], gate: UOp, enc: readonly UOp[]): UOp {
    this.#tag(node);
    this.#b.checked = true;
    const dim = node.arg as number,
      [input, index] = node.src;
    // only where the value is read: in padding (a cat's other pieces) a computed index may be anything
    const i = alu('WHERE', [gate, alu('CAST', [this.#lower(index!, idx, gate, enc)], 'i32'), constOf(0, 'i32')]);
    const message = `gather: index into dim ${dim} of [${input!.shape}]`;
    const checked = UOp.make('CHECKED', 'i32', [i], [0, input!.shape[dim]! - 1, message]);
    return this.#lower(
      input!,
      idx.map((x, j) => (j === dim ? checked : x)),
      gate,
      enc,
    );
  }
}
