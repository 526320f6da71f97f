// vectorLoads: four ungated loads of one input at elements 4m .. 4m + 3 past a base that is a multiple of 4 (an
// UPCAST or UNROLL by 4 along a contiguous axis) become one load of a 4-vector, where the target has them (WGSL,
// CUDA).
// An input is read so only when every load of it is in such a group, so its buffer is declared as 4-vectors and no
// load of it needs a lane picked at run time. A software rasterizer pays per access, not per byte (lavapipe reads a
// vec4 in about the time of a float); a GPU issues one 16-byte load for four.
import type { DType } from './dtype.js';
import type { Kernel } from './kernel.js';
import type { Inst } from './linearize.js';
import type { UOp } from './uop.js';

/** One load of a group: the group's key, the lane it reads, and where the group's vector starts (4·m past base). */
export interface VectorLane {
  readonly param: number;
  readonly group: string;
  readonly lane: number;
  readonly base: UOp | undefined;
  readonly m: number;
}
export interface VectorLoads {
  /** Inputs every load of which is in a group: the program declares them as arrays of 4-vectors. */
  readonly params: ReadonlySet<number>;
  readonly lanes: ReadonlyMap<UOp, VectorLane>;
}

/** An index as base + constant (constants peeled off nested ADDs; base undefined for a constant index). */
function split(idx: UOp): [UOp | undefined, number] {
  if (idx.isConst) return [undefined, Number(idx.constValue)];
  if (idx.op === 'ADD') {
    const [a, b] = idx.src as [UOp, UOp];
    const c = b.isConst ? b : a.isConst ? a : undefined;
    if (c) {
      const [base, off] = split(c === b ? a : b);
      return [base, off + Number(c.constValue)];
    }
  }
  return [idx, 0];
}

/** Whether an i32 expression is a multiple of 4 for every value of its ranges (a sufficient check). */
function quad(u: UOp): boolean {
  if (u.isConst) return Number(u.constValue) % 4 === 0;
  if (u.op === 'MUL') return u.src.some(quad);
  if (u.op === 'ADD') return u.src.every(quad);
  return u.op === 'SHL' && u.src[1]!.isConst && Number(u.src[1]!.constValue) >= 2;
}

/** The groups of k's loads, of inputs whose dtype the target reads as 4-vectors (`dtypes`). */
export function vectorLoads(k: Kernel, insts: readonly Inst[], dtypes: ReadonlySet<DType>): VectorLoads {
  const loads = new Set<UOp>();
  for (const inst of insts) if (inst.kind === 'value' && inst.u.op === 'LOAD') loads.add(inst.u);
  const lanes = new Map<UOp, VectorLane>(),
    groups = new Map<string, Set<number>>(),
    scalar = new Set<number>();
  for (const u of loads) {
    const [p, idx, gate] = u.src as [UOp, UOp, UOp],
      param = Number(p.arg),
      info = k.params[param];
    const [base, off] = split(idx);
    const fits =
      p.op === 'PARAM' &&
      info !== undefined &&
      !info.write &&
      dtypes.has(info.dtype) &&
      gate.isConst &&
      gate.constValue === true &&
      off >= 0 &&
      (base === undefined || quad(base));
    if (!fits) {
      if (p.op === 'PARAM') scalar.add(param);
      continue;
    }
    const m = Math.floor(off / 4),
      group = `${param}|${base?.id ?? 'c'}|${m}`;
    lanes.set(u, { param, group, lane: off % 4, base, m });
    groups.set(group, (groups.get(group) ?? new Set()).add(off % 4));
  }
  // an input is read as vectors only when each of its loads is a lane of a whole group
  for (const l of lanes.values()) if (groups.get(l.group)!.size < 4) scalar.add(l.param);
  const params = new Set([...lanes.values()].map((l) => l.param).filter((p) => !scalar.has(p)));
  for (const [u, l] of [...lanes]) if (!params.has(l.param)) lanes.delete(u);
  return { params, lanes };
}
