// What the scheduler hands to codegen: one fused kernel as store expressions over a global iteration space.
import { add, int, mul } from './alu.js';
import type { DType } from './dtype.js';
import { UOp, argKey } from './uop.js';

export interface KernelParam {
  readonly dtype: DType;
  readonly numel: number;
  readonly write: boolean;
}

/**
 * `stores[i]` writes output param i at every point of `shape`; values are scalar UOps over
 * RANGE(global) nodes (ids 0..shape.length-1), RANGE(reduce) nodes inside REDUCEs, PARAMs and LOADs.
 */
export interface Kernel {
  readonly name: string;
  readonly shape: readonly number[];
  readonly params: readonly KernelParam[];
  /** The dtypes of the variables (VAR nodes 0, 1, …) the kernel reads at launch. */
  readonly vars?: readonly DType[];
  readonly stores: readonly UOp[];
  /** The high-level ops fused into this kernel (for profiles). */
  readonly ops?: readonly string[];
  /** Optimizer actions applied when lowering (codegen/actions.ts). */
  readonly opts?: readonly Opt[];
  /**
   * Where each point of `shape` stores, over its global ranges (default: its flat index in `shape`): a shard of a
   * kernel writes its part of the whole output, relative to the chunk it writes (shard.ts).
   */
  readonly storeIndex?: UOp;
  /**
   * A contributed kernel in target source (kernels/): a complete program per language name, the integer values it
   * reads as its variables, and its launch: workgroups per dimension and threads per workgroup.
   */
  readonly custom?: {
    readonly name: string;
    readonly sources: Readonly<Record<string, string>>;
    readonly values: readonly number[];
    readonly grid: readonly [number, number, number];
    readonly block: number;
  };
}

/**
 * One optimizer action (codegen/actions.ts applies and validates them; heuristic.ts and search.ts choose them).
 * UPCAST: each thread computes `amount` consecutive outputs along global `axis`, sharing loads that do not depend
 * on it. UNROLL: one iteration of reduce range `axis` (a range id) runs `amount` consecutive steps, so loads that
 * overlap between steps (a conv window sliding along an upcast axis) are loaded once. GROUP: `amount` threads of a
 * workgroup share each output; they split the loop of reduce range `axis` between them and combine their partial
 * results in workgroup memory. The lanes of one output are adjacent threads (coalesced where the reduce range is
 * contiguous in memory); GROUPWIDE lays them a workgroup / amount apart instead, so adjacent threads hold adjacent
 * outputs. LOCAL: the outputs of one workgroup form a tile `amount` wide along global `axis` (of the launch, after
 * UPCAST) instead of a run of the flat order, so neighbours in several axes share the cache lines they load.
 * PADTO: global `axis` runs to the next multiple of `amount`; the extra points compute the last real one and do not
 * store, so a ragged axis can be upcast or tiled. STAGE: where LOCAL tiles are whole workgroups, reduce range `axis`
 * runs in chunks of `amount` steps, and the loads the tile's threads share are staged per chunk in workgroup memory
 * (codegen/stage.ts). TC: STAGE with the chunk's product done by tensor cores: a matmul-shaped reduce (f16 operands
 * cast to f32, summed) over range `axis`, `amount` (the tensor core's k) steps per chunk, the LOCAL tile one m×n
 * matrix tile per UPCAST copy, each copy's tile multiplied by one warp (codegen/tensorcore.ts).
 */
export interface Opt {
  readonly op: OptOp;
  readonly axis: number;
  readonly amount: number;
}
export type OptOp = 'UPCAST' | 'UNROLL' | 'GROUP' | 'GROUPWIDE' | 'LOCAL' | 'PADTO' | 'STAGE' | 'TC';

/** STAGE and TC: the actions that stage a reduce's operands in workgroup memory. */
export const isStaging = (o: Opt): boolean => o.op === 'STAGE' || o.op === 'TC';

export const isGroup = (o: Opt): boolean => o.op === 'GROUP' || o.op === 'GROUPWIDE';

/** The output shape with PADTO's axes rounded up. */
export function paddedShape(k: Kernel): number[] {
  const s = [...k.shape];
  for (const o of k.opts ?? []) if (o.op === 'PADTO') s[o.axis] = Math.ceil(s[o.axis]! / o.amount) * o.amount;
  return s;
}

/** The global space the device iterates: the padded output shape with upcast axes divided. */
export function launchShape(k: Kernel): number[] {
  const s = paddedShape(k);
  for (const o of k.opts ?? []) if (o.op === 'UPCAST') s[o.axis] = s[o.axis]! / o.amount;
  return s;
}

/** LOCAL's tile: its extent per launch axis (1 where the axis is not tiled). */
export function localTile(k: Kernel): number[] {
  const t = k.shape.map(() => 1);
  for (const o of k.opts ?? []) if (o.op === 'LOCAL') t[o.axis] = o.amount;
  return t;
}

/** Threads that share one output (1 unless GROUP applies). */
export const lanes = (k: Kernel): number => k.opts?.find(isGroup)?.amount ?? 1;
/** Whether GROUP's lanes of one output are adjacent threads (GROUP) or a workgroup / lanes apart (GROUPWIDE). */
export const lanesAdjacent = (k: Kernel): boolean => k.opts?.find(isGroup)?.op !== 'GROUPWIDE';

/** Workgroups to launch with `workgroupSize` threads each: every workgroup covers workgroupSize / lanes outputs. */
export const workgroups = (k: Kernel, workgroupSize: number): number =>
  Math.ceil(launchShape(k).reduce((a, b) => a * b, 1) / (workgroupSize / lanes(k)));

const keys = new WeakMap<Kernel, string>();
/**
 * The kernel's identity: its iteration space, params, variables and stores, written out structurally (nodes
 * numbered in visiting order, never by creation id) and without its name. Equal computations get equal keys in
 * any schedule, whatever was built before; compile caches key on it.
 */
export function kernelKey(k: Kernel): string {
  let key = keys.get(k);
  if (key === undefined) {
    const num = new Map<UOp, number>(),
      parts: string[] = [];
    const visit = (u: UOp): number => {
      let n = num.get(u);
      if (n === undefined) {
        const src = u.src.map(visit);
        parts.push(`${u.op}:${u.dtype}:${argKey(u.arg)}:${src.join(',')}`);
        num.set(u, (n = parts.length - 1));
      }
      return n;
    };
    const outs = k.stores.map(visit),
      at = k.storeIndex ? visit(k.storeIndex) : -1;
    const params = k.params.map((p) => `${p.dtype}${p.write ? 'w' : 'r'}${p.numel}`);
    // a source kernel is its program: one compile serves every shape (the shapes are its variables)
    key = k.custom
      ? `custom|${k.custom.name}|${k.params.map((p) => p.dtype).join(',')}|${JSON.stringify(k.custom.sources)}`
      : [k.shape.join('x'), params, k.vars ?? [], at, JSON.stringify(k.opts ?? []), outs, parts.join(';')].join('|');
    keys.set(k, key);
  }
  return key;
}

/** The RANGE nodes each value depends on (a REDUCE hides its own ranges). */
export function rangeDeps(): (u: UOp) => ReadonlySet<UOp> {
  const memo = new Map<UOp, ReadonlySet<UOp>>();
  const deps = (u: UOp): ReadonlySet<UOp> => {
    let d = memo.get(u);
    if (d) return d;
    if (u.op === 'RANGE') d = new Set([u]);
    else if (u.op === 'REDUCE') {
      const own = new Set(u.src.slice(1));
      d = new Set([...deps(u.src[0]!)].filter((r) => !own.has(r)));
    } else d = new Set(u.src.flatMap((s) => [...deps(s)]));
    memo.set(u, d);
    return d;
  };
  return deps;
}

/** The flat index of a point of `shape` given per-dim index nodes. */
export function linearIndex(shape: readonly number[], idx: readonly UOp[]): UOp {
  let out = int(0),
    stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    out = add(out, mul(idx[i]!, int(stride)));
    stride *= shape[i]!;
  }
  return out;
}

/** The RANGE(global) node of every axis of `shape` (the constant 0 for an axis of extent 1). */
export const globalRanges = (shape: readonly number[]): UOp[] =>
  shape.map((n, i) => (n === 1 ? int(0) : UOp.make('RANGE', 'i32', [], { id: i, extent: n, kind: 'global' })));
