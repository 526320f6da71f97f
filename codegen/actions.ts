// The optimizer's actions (Opt, kernel.ts): what each does to a kernel's stores, and which lists of them are valid
// for a kernel on a device. The heuristic (heuristic.ts) and the search (search.ts) only choose among them.
import { add, alu, and, int, lt, mul, rewrite, substitute, where } from './alu.js';
import {
  type Kernel,
  type Opt,
  type OptOp,
  globalRanges,
  isGroup,
  isStaging,
  launchShape,
  lanes,
  linearIndex,
  paddedShape,
  rangeDeps,
} from './kernel.js';
import type { Caps, TensorCore } from '../backends/backend.js';
import { type Stage, invalidStage, staged } from './stage.js';
import { invalidTensorCore } from './tensorcore.js';
import { type AluOp, UOp } from './uop.js';

/** What the optimizer reads from a backend's Caps. */
export interface OptCaps {
  readonly globalsAsLoops: boolean;
  readonly workgroupSize: number;
  readonly threads: number;
  /** Workgroup memory STAGE may use, in bytes (absent: none). */
  readonly sharedBytes?: number;
  /** The matrix units TC may use (absent or empty: none). */
  readonly tensorCores?: readonly TensorCore[];
  /** The dtype the device keeps each dtype in (WebGPU: bf16 as f32), for the bytes of staged tiles. */
  readonly storage?: Caps['storage'];
}

/** Most outputs (accumulators) per thread; most reduce steps per unrolled iteration; largest PADTO multiple. */
export const maxUpcast = 32,
  maxUnrollSteps = 64,
  maxPad = 32;

/**
 * Range r split by f: r'*f + u, where r' keeps r's id and kind over extent / f (the constant 0 when f is the extent).
 */
export function split(r: UOp, f: number): { outer: UOp; at: (u: number) => UOp } {
  const outer =
    r.range.extent === f ? int(0) : UOp.make('RANGE', 'i32', [], { ...r.range, extent: r.range.extent / f });
  return { outer, at: (u) => add(mul(outer, int(f)), int(u)) };
}

/**
 * UNROLL's rewrite: a reduce over range r unrolled by f folds f copies of its value (r -> r'*f + u) per iteration of
 * r'.
 */
function unrolled(stores: readonly UOp[], opts: readonly Opt[]): UOp[] {
  const by = new Map(opts.filter((o) => o.op === 'UNROLL').map((o) => [o.axis, o.amount]));
  if (!by.size) return [...stores];
  const unroll = (out: UOp): UOp => {
    if (out.op !== 'REDUCE') return out;
    let value = out.src[0]!;
    const ranges: UOp[] = [];
    for (const x of out.src.slice(1)) {
      const f = by.get(x.range.id);
      if (!f) {
        ranges.push(x);
        continue;
      }
      const { outer, at } = split(x, f);
      if (outer.op === 'RANGE') ranges.push(outer);
      const copies = Array.from({ length: f }, (_, u) => substitute(value, new Map([[x, at(u)]])));
      value = copies.reduce((a, b) => alu(out.arg as AluOp, [a, b]));
    }
    return ranges.length ? UOp.make('REDUCE', out.dtype, [value, ...ranges], out.arg, out.shape) : value;
  };
  const memo = new Map<UOp, UOp>();
  return stores.map((s) => rewrite(s, { post: unroll }, memo));
}

/** One store a thread performs: the output index, the value per param, and (under PADTO) whether it stores at all. */
export interface ExpandedStore {
  readonly index: UOp;
  readonly values: UOp[];
  readonly gate?: UOp;
}
/** A thread's stores, and (under STAGE) the workgroup-memory fills each staged chunk loop runs first. */
export interface Expanded {
  readonly stores: readonly ExpandedStore[];
  readonly stages: ReadonlyMap<UOp, readonly Stage[]>;
}

/**
 * The stores one thread performs, one per upcast offset. PADTO first: each padded axis's range runs over the padded
 * extent, the computation reads it clamped to the last real point (so every load stays in bounds) and the store is
 * gated to the real points.
 */
export function expandStores(k: Kernel): Expanded {
  const opts = k.opts ?? [],
    padded = paddedShape(k),
    launch = launchShape(k);
  const real = globalRanges(k.shape),
    full = globalRanges(padded),
    reduced = globalRanges(launch);
  const pad = new Map<UOp, UOp>();
  let gate: UOp | undefined;
  k.shape.forEach((n, d) => {
    if (padded[d] === n) return;
    const inside = lt(full[d]!, int(n));
    pad.set(real[d]!, where(inside, full[d]!, int(n - 1)));
    gate = gate ? and(gate, inside) : inside;
  });
  const padMemo = new Map<UOp, UOp>();
  const stores = unrolled(k.stores, opts).map((s) => (pad.size ? substitute(s, pad, padMemo) : s));
  const index = substitute(k.storeIndex ?? linearIndex(k.shape, real), pad, padMemo);
  let combos: Map<UOp, UOp>[] = [new Map()];
  padded.forEach((_, d) => {
    const o = opts.find((x) => x.op === 'UPCAST' && x.axis === d);
    if (full[d]!.op !== 'RANGE') return;
    const f = o?.amount ?? 1;
    combos = combos.flatMap((m) =>
      Array.from(
        { length: f },
        (_, u) => new Map([...m, [full[d]!, f === 1 ? reduced[d]! : add(mul(reduced[d]!, int(f)), int(u))]]),
      ),
    );
  });
  const grouped = groupedRanges(k);
  for (const m of combos) for (const [r, g] of grouped) m.set(r, g);
  const memo = combos.map(() => new Map<UOp, UOp>());
  const expanded = combos.map((m, i) => ({
    index: substitute(index, m, memo[i]),
    values: stores.map((v) => substitute(v, m, memo[i])),
    ...(gate ? { gate: substitute(gate, m, memo[i]) } : {}),
  }));
  const stage = opts.find(isStaging);
  if (!stage) return { stores: expanded, stages: new Map() };
  const s = staged(
      k,
      stage,
      expanded.flatMap((e) => e.values),
    ),
    n = stores.length;
  return { stores: expanded.map((e, i) => ({ ...e, values: s.stores.slice(i * n, (i + 1) * n) })), stages: s.stages };
}

/** The REDUCEs whose loop runs once per thread, not inside another reduce's loop: the ones GROUP may split. */
export function topReduces(k: Kernel): UOp[] {
  const deps = rangeDeps(),
    all = new Set<UOp>();
  for (const s of k.stores) for (const u of s.toposort()) if (u.op === 'REDUCE') all.add(u);
  return [...all].filter((r) => [...deps(r)].every((x) => x.range.kind === 'global'));
}

/** The reduce ranges of top-level reduces that no nested reduce also loops over: the ones GROUP may split. */
export function groupableRanges(k: Kernel): UOp[] {
  const top = topReduces(k),
    nested = new Set<UOp>();
  for (const s of k.stores) {
    for (const u of s.toposort())
      if (u.op === 'REDUCE' && !top.includes(u)) u.src.slice(1).forEach((x) => nested.add(x));
  }
  return [
    ...new Set(top.filter((r) => r.dtype !== 'bool').flatMap((r) => r.src.slice(1).filter((x) => !nested.has(x)))),
  ];
}

/** GROUP's rewrite: each grouped reduce range becomes a 'group' range with the same id and extent. */
function groupedRanges(k: Kernel): Map<UOp, UOp> {
  const ids = new Set((k.opts ?? []).filter(isGroup).map((o) => o.axis));
  const out = new Map<UOp, UOp>();
  if (!ids.size) return out;
  for (const x of groupableRanges(k))
    if (ids.has(x.range.id)) out.set(x, UOp.make('RANGE', 'i32', [], { ...x.range, kind: 'group' }));
  return out;
}

/** Every reduce range of the kernel by id, with whether some reduce over it is of bools (no ALU folds those). */
function reduceRanges(k: Kernel): Map<number, { extent: number; bool: boolean }> {
  const out = new Map<number, { extent: number; bool: boolean }>();
  for (const s of k.stores) {
    for (const u of s.toposort()) {
      if (u.op !== 'REDUCE') continue;
      for (const x of u.src.slice(1)) {
        const was = out.get(x.range.id);
        out.set(x.range.id, { extent: x.range.extent, bool: (was?.bool ?? false) || u.dtype === 'bool' });
      }
    }
  }
  return out;
}

const fmt = (o: Opt): string => `${o.op}(${o.axis}, ${o.amount})`;
/** A list of actions as DEBUG=3 and the tune report print it. */
export const formatOpts = (opts: readonly Opt[]): string => opts.map(fmt).join(' ') || 'none';
const gpuOnly: ReadonlySet<OptOp> = new Set(['GROUP', 'GROUPWIDE', 'LOCAL', 'STAGE', 'TC']);
const onReduce: ReadonlySet<OptOp> = new Set(['UNROLL', 'GROUP', 'GROUPWIDE', 'STAGE', 'TC']);

/** Whether a value read from a file (a beam cache, a contributed entry) is an action at all. */
const isAction = (o: unknown): o is Opt =>
  typeof o === 'object' && o !== null && Object.hasOwn(amounts, (o as Opt).op) && Number.isInteger((o as Opt).axis);

/** Why one action cannot apply to kernel k as it stands under `opts` (all of its actions), or undefined. */
function invalidAction(k: Kernel, o: Opt, opts: readonly Opt[], caps: OptCaps): string | undefined {
  if (!isAction(o)) return `${JSON.stringify(o)}: not an optimizer action (${Object.keys(amounts).join(', ')})`;
  const s = fmt(o),
    shape = k.shape,
    padded = paddedShape({ ...k, opts });
  if (!Number.isInteger(o.amount) || o.amount < 2) return `${s}: the amount must be an integer above 1`;
  if (gpuOnly.has(o.op) && caps.globalsAsLoops) return `${s}: workgroups are a GPU's`;
  if (onReduce.has(o.op)) {
    const r = reduceRanges(k).get(o.axis);
    if (r === undefined || r.extent % o.amount) return `${s}: no reduce range ${o.axis} that splits by ${o.amount}`;
    if (r.bool) return `${s}: reduce range ${o.axis} folds bools`;
    if (o.op === 'UNROLL') return undefined;
    if (o.op === 'STAGE') return invalidStage(k, o, opts, caps.sharedBytes ?? 0, caps.storage ?? {});
    if (o.op === 'TC') return invalidTensorCore(k, o, opts, caps);
    if (!groupableRanges(k).some((x) => x.range.id === o.axis))
      return `${s}: range ${o.axis} is not a top-level reduce's own`;
    if (o.amount & (o.amount - 1) || o.amount > caps.workgroupSize)
      return `${s}: lanes must be a power of two up to ${caps.workgroupSize}`;
    return undefined;
  }
  if (!(Number.isInteger(o.axis) && o.axis >= 0 && o.axis < shape.length))
    return `${s}: [${shape}] has no axis ${o.axis}`;
  switch (o.op) {
    case 'PADTO':
      if (shape[o.axis]! % o.amount === 0)
        return `${s}: axis ${o.axis} of [${shape}] is a multiple of ${o.amount} already`;
      if (o.amount > maxPad) return `${s}: at most ${maxPad}`;
      return padded[o.axis]! >= 2 * shape[o.axis]!
        ? `${s}: would more than double axis ${o.axis} of [${shape}]`
        : undefined;
    case 'UPCAST':
      return padded[o.axis]! % o.amount
        ? `${s}: axis ${o.axis} of [${padded}] does not split by ${o.amount}`
        : undefined;
    case 'LOCAL': {
      const launch = launchShape({ ...k, opts });
      return launch[o.axis]! % o.amount
        ? `${s}: launch axis ${o.axis} of [${launch}] does not split by ${o.amount}`
        : undefined;
    }
    default:
      throw new Error(`${s}: not an optimizer action`); // reduce actions returned above
  }
}

/**
 * Why a list of actions cannot apply to a kernel on a device with these caps, or undefined: each action is valid on
 * its own (above), no op is applied twice to one axis, and the whole keeps at most maxUpcast outputs and
 * maxUnrollSteps steps per thread, one lane count, and LOCAL tiles that divide a workgroup's outputs.
 */
export function invalidOpts(k: Kernel, opts: readonly Opt[], caps: OptCaps): string | undefined {
  for (const o of opts) {
    const why = invalidAction(k, o, opts, caps);
    if (why) return why;
  }
  const slot = (o: Opt): string => (onReduce.has(o.op) ? `reduce range ${o.axis}` : `${o.op} of axis ${o.axis}`);
  const slots = opts.map(slot);
  const twice = slots.find((x, i) => slots.indexOf(x) !== i);
  if (twice) return `${twice} is split twice`;
  const product = (op: OptOp): number => opts.filter((o) => o.op === op).reduce((a, o) => a * o.amount, 1);
  if (product('UPCAST') > maxUpcast) return `UPCAST: ${product('UPCAST')} outputs per thread, at most ${maxUpcast}`;
  if (product('UNROLL') > maxUnrollSteps)
    return `UNROLL: ${product('UNROLL')} steps per iteration, at most ${maxUnrollSteps}`;
  if (new Set(opts.filter(isGroup).map((o) => o.amount)).size > 1) return 'GROUP: one lane count per kernel';
  const per = caps.workgroupSize / lanes({ ...k, opts }),
    tile = product('LOCAL');
  if (per % tile) return `LOCAL: a tile of ${tile} outputs does not divide the ${per} of a workgroup`;
  const staging = opts.filter(isStaging);
  if (staging.length) {
    const op = staging[0]!.op;
    if (opts.some(isGroup)) return `${op}: not with GROUP (lanes would share the staged tile unevenly)`;
    if (tile !== caps.workgroupSize)
      return `${op}: LOCAL tiles must be whole workgroups (${tile} of ${caps.workgroupSize} threads)`;
    if (staging.length > 1) return `${op}: one staged reduce per kernel`;
  }
  return undefined;
}

const amounts: Readonly<Record<OptOp, readonly number[]>> = {
  UPCAST: [2, 3, 4, 8],
  UNROLL: [2, 4, 8],
  GROUP: [4, 8, 16, 32, 64, 128, 256],
  GROUPWIDE: [4, 8, 16, 32, 64, 128, 256],
  LOCAL: [2, 4, 8, 16, 32],
  PADTO: [4, 8, 16, 32],
  STAGE: [4, 8, 16, 32],
  TC: [8, 16],
};

/** Every list `opts` plus one action that is valid: the neighbours the search explores. */
export function nextActions(k: Kernel, opts: readonly Opt[], caps: OptCaps): Opt[][] {
  const reduces = [...reduceRanges(k)].map(([id, r]) => ({ id, extent: r.extent }));
  const cands: Opt[] = [];
  for (const op of Object.keys(amounts) as OptOp[]) {
    const axes = onReduce.has(op) ? reduces.map((r) => r.id) : k.shape.map((_, d) => d);
    for (const axis of axes) {
      const whole = onReduce.has(op) ? reduces.find((r) => r.id === axis)!.extent : 0;
      for (const amount of op === 'UNROLL' && whole <= 16 ? [...amounts[op], whole] : amounts[op])
        cands.push({ op, axis, amount });
    }
  }
  const seen = new Set<string>();
  return cands
    .map((o) => [...opts, o])
    .filter((l) => {
      const key = formatOpts(l);
      if (seen.has(key)) return false;
      seen.add(key);
      return !invalidOpts(k, l, caps);
    });
}
