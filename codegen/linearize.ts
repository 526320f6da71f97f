// Kernel -> an ordered list of instructions. Each value is placed in the outermost loop that defines
// every range it depends on, so loop-invariant work (a row's max inside softmax's sum) is hoisted.
import { expandStores } from './actions.js';
import type { Stage } from './stage.js';
import { type Kernel, globalRanges, launchShape, rangeDeps } from './kernel.js';
import type { UOp } from './uop.js';

export type Inst =
  | { readonly kind: 'loop'; readonly range: UOp }
  | { readonly kind: 'end' }
  | { readonly kind: 'global'; readonly range: UOp } // a global index the device provides
  | { readonly kind: 'acc'; readonly reduce: UOp } // declare the accumulator of a REDUCE
  | { readonly kind: 'update'; readonly reduce: UOp; readonly value: UOp }
  | { readonly kind: 'combine'; readonly reduces: readonly UOp[] } // GROUP: merge the lanes' partial accumulators
  | { readonly kind: 'value'; readonly u: UOp }
  | { readonly kind: 'store'; readonly param: number; readonly index: UOp; readonly value: UOp; readonly gate?: UOp }
  | { readonly kind: 'barrier' } // every thread of the workgroup waits here (STAGE)
  | { readonly kind: 'tiles'; readonly reduces: readonly UOp[] } // TC: the matrix tiles to workgroup memory
  | { readonly kind: 'stage'; readonly shared: UOp; readonly index: UOp; readonly value: UOp; readonly gate?: UOp };

interface Block {
  readonly ranges: ReadonlySet<UOp>;
  readonly insts: Inst[];
  readonly opener?: UOp;
}

/** globalsAsLoops: the CPU runs the global space as nested loops; GPUs get it from their launch grid. */
export function linearize(k: Kernel, globalsAsLoops: boolean): Inst[] {
  const deps = rangeDeps();
  const root: Block = { ranges: new Set(), insts: [] };
  let stack: Block[] = [root];
  const open = (ranges: readonly UOp[]): Block[] => {
    const chain: Block[] = [];
    let known = stack[stack.length - 1]!.ranges;
    for (const r of ranges) {
      known = new Set([...known, r]);
      chain.push({ ranges: known, insts: [], opener: r });
    }
    return chain;
  };
  const close = (chain: Block[], parent: Block): void => {
    for (let i = chain.length - 1; i >= 0; i--) {
      const b = chain[i]!,
        into = i === 0 ? parent : chain[i - 1]!;
      into.insts.push({ kind: 'loop', range: b.opener! }, ...b.insts, { kind: 'end' });
    }
  };
  const target = (u: UOp): Block => {
    const d = deps(u);
    for (let i = 0; i < stack.length; i++) {
      const b = stack[i]!;
      if ([...d].every((r) => b.ranges.has(r))) return b;
    }
    throw new Error(`linearize: ${u.op} depends on a range that is not open`);
  };
  // reduces over the same ranges inside the same outer loops (upcast copies of one reduce) run in one loop with one
  // accumulator each; one that depends on fewer outer ranges must not be pulled deeper, below its users
  const siblings = new Map<string, UOp[]>();
  const siblingKey = (r: UOp): string =>
    `${r.src
      .slice(1)
      .map((x) => x.id)
      .join()}|${[...deps(r)]
      .map((x) => x.id)
      .sort((a, b) => a - b)
      .join()}`;
  const done = new Set<UOp>();
  const emit = (u: UOp): void => {
    if (done.has(u)) return;
    done.add(u);
    if (u.op === 'CONST' || u.op === 'RANGE' || u.op === 'PARAM' || u.op === 'VAR' || u.op === 'SHARED') return;
    if (u.op === 'MMA') {
      for (const s of u.src) emit(s); // the product is the REDUCE's update, rendered there
      return;
    }
    if (u.op === 'REDUCE') {
      const group = siblings.get(siblingKey(u)) ?? [u];
      for (const r of group) done.add(r);
      const deps0 = new Set(group.flatMap((r) => [...deps(r)]));
      const into = stack.find((b) => [...deps0].every((r) => b.ranges.has(r)))!;
      for (const r of group) into.insts.push({ kind: 'acc', reduce: r });
      const fills = stages.get(u.src[1]!) ?? [];
      const saved = stack,
        before = new Set(done),
        own = new Set([...u.src.slice(1), ...fills.map((f) => f.fill)]);
      stack = stack.slice(0, stack.indexOf(into) + 1);
      const chain = open(u.src.slice(1));
      if (fills.length) fill(chain[0]!, fills);
      stack = [...stack, ...chain];
      for (const r of group) emit(r.src[0]!);
      for (const r of group) chain[chain.length - 1]!.insts.push({ kind: 'update', reduce: r, value: r.src[0]! });
      close(chain, into);
      // values inside this loop belong to it: another reduce over the same range emits its own copies
      for (const x of done) if (!before.has(x) && [...deps(x)].some((r) => own.has(r))) done.delete(x);
      if (u.src.slice(1).some((r) => r.range.kind === 'group')) into.insts.push({ kind: 'combine', reduces: group });
      if (u.src[0]!.op === 'MMA') into.insts.push({ kind: 'tiles', reduces: group });
      stack = saved;
      return;
    }
    for (const s of u.src) emit(s);
    target(u).insts.push({ kind: 'value', u });
  };

  /** STAGE: at the top of a chunk loop, the workgroup fills its arrays between two barriers. */
  const fill = (chunk: Block, fills: readonly Stage[]): void => {
    const saved = stack;
    chunk.insts.push({ kind: 'barrier' });
    for (const f of fills) {
      stack = [...saved, chunk];
      const loop = f.fill.op === 'RANGE' ? open([f.fill]) : [];
      stack = [...stack, ...loop];
      for (const x of [f.index, f.value, ...(f.gate ? [f.gate] : [])]) emit(x);
      (loop[0] ?? chunk).insts.push({ kind: 'stage', shared: f.shared, index: f.index, value: f.value, gate: f.gate });
      if (loop.length) close(loop, chunk);
    }
    chunk.insts.push({ kind: 'barrier' });
    stack = saved;
  };

  const { stores, stages } = expandStores(k);
  for (const { values } of stores) {
    for (const v of values) {
      for (const r of v.toposort()) {
        if (r.op !== 'REDUCE') continue;
        const key = siblingKey(r),
          list = siblings.get(key) ?? [];
        if (!list.includes(r)) siblings.set(key, [...list, r]);
      }
    }
  }
  const globals = globalRanges(launchShape(k)).filter((g) => g.op === 'RANGE');
  let chain: Block[];
  if (globalsAsLoops) {
    chain = open(globals);
  } else {
    const all: Block = { ranges: new Set(globals), insts: globals.map((range) => ({ kind: 'global', range }) as Inst) };
    chain = [all];
  }
  stack = [root, ...chain];
  const inner = chain[chain.length - 1] ?? root;
  for (const { index, values, gate } of stores) {
    emit(index);
    if (gate) emit(gate);
    values.forEach((value, param) => {
      emit(value);
      inner.insts.push({ kind: 'store', param, index, value, ...(gate ? { gate } : {}) });
    });
  }
  if (globalsAsLoops) close(chain, root);
  else root.insts.push(...chain[0]!.insts);
  return root.insts;
}
