// The one node type of every IR level: an immutable, hash-consed {op, dtype, src, arg, shape}.
// Equal subgraphs are the same object, so caches key on identity and rewrites share work.
import { type DType, castValue, isFloat } from './dtype.js';

export type UnaryOp = 'NEG' | 'RECIP' | 'SQRT' | 'EXP' | 'LOG' | 'EXP2' | 'LOG2' | 'SIN' | 'COS' | 'TRUNC';
export type BinaryOp =
  | 'ADD'
  | 'MUL'
  | 'FDIV'
  | 'IDIV'
  | 'MOD'
  | 'MAX'
  | 'CMPLT'
  | 'CMPNE'
  | 'AND'
  | 'OR'
  | 'XOR'
  | 'SHL'
  | 'SHR';
export type AluOp = UnaryOp | BinaryOp | 'WHERE' | 'CAST' | 'BITCAST';
export type MovementOp = 'RESHAPE' | 'PERMUTE' | 'EXPAND' | 'PAD' | 'SHRINK' | 'FLIP' | 'WINDOW';
export type ReduceOp = 'ADD' | 'MAX' | 'MUL';
export type Op =
  | AluOp
  | MovementOp
  | 'CONST'
  | 'ARANGE'
  | 'BUFFER'
  | 'BIND'
  | 'REDUCE_AXIS'
  | 'CONTIGUOUS'
  | 'GATHER'
  | 'CUSTOM' // tensor level
  | 'RANGE'
  | 'PARAM'
  | 'VAR'
  | 'LOAD'
  | 'REDUCE'
  | 'CHECKED'
  | 'SHARED' // kernel level (SHARED: a workgroup array, codegen/stage.ts)
  | 'MMA'; // one chunk's tensor-core product, summed by its REDUCE (codegen/tensorcore.ts)

export const unaryOps: readonly UnaryOp[] = [
  'NEG',
  'RECIP',
  'SQRT',
  'EXP',
  'LOG',
  'EXP2',
  'LOG2',
  'SIN',
  'COS',
  'TRUNC',
];
export const binaryOps: readonly BinaryOp[] = [
  'ADD',
  'MUL',
  'FDIV',
  'IDIV',
  'MOD',
  'MAX',
  'CMPLT',
  'CMPNE',
  'AND',
  'OR',
  'XOR',
  'SHL',
  'SHR',
];
export const movementOps: readonly MovementOp[] = ['RESHAPE', 'PERMUTE', 'EXPAND', 'PAD', 'SHRINK', 'FLIP', 'WINDOW'];
export const isAlu = (op: Op): op is AluOp =>
  op === 'WHERE' ||
  op === 'CAST' ||
  op === 'BITCAST' ||
  (unaryOps as readonly Op[]).includes(op) ||
  (binaryOps as readonly Op[]).includes(op);
export const isMovement = (op: Op): op is MovementOp => (movementOps as readonly Op[]).includes(op);
/** Ops worth not recomputing once per reuse. */
export const transcendental: ReadonlySet<Op> = new Set<Op>([
  'EXP',
  'LOG',
  'EXP2',
  'LOG2',
  'SIN',
  'COS',
  'SQRT',
  'RECIP',
  'FDIV',
]);

/** 'group': a reduce range whose loop the lanes of a workgroup share (lane l runs l, l + lanes, …; opt GROUP). */
export type RangeKind = 'global' | 'reduce' | 'group';
export interface RangeArg {
  readonly id: number;
  readonly extent: number;
  readonly kind: RangeKind;
}
/**
 * A scalar whose value changes between calls (a timestep, a cursor coordinate, a seed): at tensor level a BIND
 * node carries one of these (its identity, not its value, is in the graph); kernels read it as a VAR argument.
 */
export interface Bound {
  readonly uid: number;
  readonly value: number;
  readonly min: number;
  readonly max: number;
  readonly name: string;
}
/** The kernel-level read of variable `index` of a kernel; ints carry their bounds for index simplification. */
export interface VarArg {
  readonly index: number;
  readonly min: number;
  readonly max: number;
}
/** Objects with a uid (device buffers, bound variables) key by identity; everything else by value. */
export interface Identified {
  readonly uid: number;
}
export type Arg =
  | null
  | number
  | boolean
  | string
  | RangeArg
  | Identified
  | readonly unknown[]
  | { readonly [k: string]: unknown };

let nextId = 0;
const interned = new Map<string, WeakRef<UOp>>();
const collected = new FinalizationRegistry<string>((key) => {
  const ref = interned.get(key);
  if (ref && !ref.deref()) interned.delete(key);
});

/** How many distinct nodes were ever made (for collection points, runtime/turn.ts). @internal */
export const nodesMade = (): number => nextId;

export function argKey(arg: Arg): string {
  if (typeof arg === 'number') return Object.is(arg, -0) ? '-0' : String(arg);
  if (arg !== null && typeof arg === 'object' && 'uid' in arg) return `#${(arg as Identified).uid}`;
  return JSON.stringify(arg);
}

export class UOp {
  readonly id = nextId++;
  #bounds?: [number, number];
  #hash?: number;
  private constructor(
    readonly op: Op,
    readonly dtype: DType,
    readonly src: readonly UOp[],
    readonly arg: Arg,
    readonly shape: readonly number[],
  ) {}

  static make(op: Op, dtype: DType, src: readonly UOp[], arg: Arg = null, shape: readonly number[] = []): UOp {
    const key = `${op}|${dtype}|${argKey(arg)}|${shape.join(',')}|${src.map((s) => s.id).join(',')}`;
    const hit = interned.get(key)?.deref();
    if (hit) return hit;
    const u = new UOp(op, dtype, src, arg, shape);
    interned.set(key, new WeakRef(u));
    collected.register(u, key);
    return u;
  }

  get range(): RangeArg {
    return this.arg as RangeArg;
  }
  get constValue(): number | boolean {
    return this.arg as number | boolean;
  }
  get isConst(): boolean {
    return this.op === 'CONST';
  }
  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  /** Integer bounds [min, max] of the value, for index simplification. */
  get vmin(): number {
    return this.bounds()[0];
  }
  get vmax(): number {
    return this.bounds()[1];
  }
  bounds(): [number, number] {
    return (this.#bounds ??= computeBounds(this));
  }

  /**
   * A hash of the structure below this node (op, dtype, arg, shape and the sources' hashes, never creation ids),
   * so orders that must not depend on what was built before (terms of an index sum) can use it.
   */
  get hash(): number {
    if (this.#hash === undefined) {
      let h = fnv(`${this.op}|${this.dtype}|${argKey(this.arg)}|${this.shape.join(',')}`);
      for (const s of this.src) h = Math.imul(h ^ s.hash, 16777619) >>> 0;
      this.#hash = h;
    }
    return this.#hash;
  }

  /** Every node reachable from this one, sources before users. */
  toposort(): UOp[] {
    const out: UOp[] = [],
      seen = new Set<UOp>();
    const visit = (u: UOp): void => {
      if (seen.has(u)) return;
      seen.add(u);
      for (const s of u.src) visit(s);
      out.push(u);
    };
    visit(this);
    return out;
  }
}

/** FNV-1a over a string's UTF-16 code units. */
export function fnv(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

function dtypeBounds(d: DType): [number, number] {
  return d === 'bool'
    ? [0, 1]
    : d === 'i32'
      ? [-2147483648, 2147483647]
      : d === 'u32'
        ? [0, 4294967295]
        : [-Infinity, Infinity];
}

function computeBounds(u: UOp): [number, number] {
  const [a, b] = u.src;
  const full = dtypeBounds(u.dtype);
  // float values can be NaN, which no interval describes: only constants have float bounds
  if (isFloat(u.dtype)) return u.isConst ? [Number(u.arg), Number(u.arg)] : full;
  switch (u.op) {
    case 'CONST': {
      const v = Number(u.arg);
      return [v, v];
    }
    case 'RANGE':
      return [0, u.range.extent - 1];
    case 'VAR': {
      const v = u.arg as unknown as VarArg;
      return [v.min, v.max];
    }
    case 'CHECKED': {
      const [lo, hi] = u.arg as [number, number, string];
      return [lo, hi];
    }
    case 'ADD':
      return clamp([a!.vmin + b!.vmin, a!.vmax + b!.vmax], full);
    case 'MUL': {
      const p = [a!.vmin * b!.vmin, a!.vmin * b!.vmax, a!.vmax * b!.vmin, a!.vmax * b!.vmax].map((x) =>
        Number.isNaN(x) ? 0 : x,
      );
      return clamp([Math.min(...p), Math.max(...p)], full);
    }
    case 'IDIV':
      if (b!.isConst && Number(b!.arg) > 0)
        return [Math.trunc(a!.vmin / Number(b!.arg)), Math.trunc(a!.vmax / Number(b!.arg))];
      return full;
    case 'MOD':
      if (b!.isConst && Number(b!.arg) > 0) {
        const d = Number(b!.arg);
        return a!.vmin >= 0 ? [0, Math.min(d - 1, a!.vmax)] : [-(d - 1), d - 1];
      }
      return full;
    case 'MAX':
      return [Math.max(a!.vmin, b!.vmin), Math.max(a!.vmax, b!.vmax)];
    case 'WHERE':
      return [Math.min(b!.vmin, u.src[2]!.vmin), Math.max(b!.vmax, u.src[2]!.vmax)];
    case 'CAST':
      return u.dtype === 'bool' || isFloat(u.dtype) ? full : clamp(a!.bounds(), full);
    default:
      return full;
  }
}

const clamp = ([lo, hi]: [number, number], [flo, fhi]: [number, number]): [number, number] =>
  lo < flo || hi > fhi ? [flo, fhi] : [lo, hi];

export const constOf = (v: number | boolean, dtype: DType, shape: readonly number[] = []): UOp =>
  UOp.make('CONST', dtype, [], castValue(v, dtype), shape);
