// The one renderer: walks the linear program and asks a Language table for every piece of syntax,
// so a target (JS, WGSL, CUDA C) differs only where its language does.
import type { DType } from './dtype.js';
import { type Kernel, lanes } from './kernel.js';
import type { Inst } from './linearize.js';
import type { SharedArg } from './stage.js';
import type { MmaArg } from './tensorcore.js';
import type { AluOp, ReduceOp, UOp, VarArg } from './uop.js';
import { minValue } from './dtype.js';
import { type VectorLane, vectorLoads } from './vectorize.js';

export interface Language {
  readonly name: string;
  literal(v: number | boolean, d: DType): string;
  alu(op: AluOp, args: readonly string[], d: DType, srcDtype: DType): string;
  load(buf: string, index: string, d: DType, gate?: string): string;
  store(buf: string, index: string, value: string, d: DType): string;
  declare(name: string, d: DType, expr: string, mutable: boolean): string;
  /** `for name in start, start + step, … < extent` (start is an expression). */
  loop(name: string, extent: number, start?: string, step?: number): string;
  /** The outermost global loop of a host that splits it between threads: its bounds are the kernel's arguments. */
  splitLoop?(name: string): string;
  /** A global index of the launch grid (only for devices that run the global space in parallel). */
  globalIndex(name: string, range: UOp, k: Kernel): string;
  /** The value of the kernel's variable `index` (of dtype d), passed at launch. */
  variable(index: number, d: DType): string;
  /** value when lo <= value <= hi, else a failure the host reports (message names the op). */
  checked(value: string, lo: number, hi: number, message: string): string;
  /** Wraps the rendered body (and workgroup-memory declarations) into a complete program. */
  kernel(k: Kernel, body: readonly string[], shared: readonly string[], uses: Uses): string;
  /**
   * GPU languages that run GROUP: an array in workgroup memory with one slot per thread, and a barrier. Their
   * kernel prologue names `lane` (0..lanes-1: this thread's share of its output's reduce), `first` (its first
   * iteration), `slot` (its index into workgroup memory, lanes of one output adjacent) and `owner` (the lane
   * that stores).
   */
  shared?(name: string, d: DType, size?: number, align?: number): string;
  readonly barrier?: string;
  /** GPU languages that drive tensor cores (TC): a warp's matrix fragments. */
  readonly matrix?: MatrixOps;
  /** Languages that read four adjacent elements of an input at once (codegen/vectorize.ts). */
  readonly vector?: VectorOps;
}

/**
 * 4-vector loads of the `dtypes` listed: `declare` names the 4-vector at vector `index` of `buf`, an input of dtype
 * d (elements 4·index .. 4·index + 3; a program that must may declare buf as 4-vectors: Uses.vectors); `lane` is one
 * of its elements.
 */
export interface VectorOps {
  readonly dtypes: ReadonlySet<DType>;
  declare(name: string, buf: string, index: string, d: DType): string;
  lane(vector: string, lane: number): string;
}

/**
 * A warp's matrix-unit operations on an m×n×k tile (codegen/tensorcore.ts) of `input` operands: `declare` a zeroed
 * m×n accumulator of dtype d; `step` adds A·B to it, A m×k column-major at `a` (leading dimension lda), B k×n row-major
 * at `b` (leading dimension ldb); `store` writes it row-major to `c` (leading dimension n). The whole warp runs each
 * together; `runs(w)` holds in the warps that multiply the tiles TC gave warp w (warp = thread / 32; a target whose
 * subgroups may be wider deals those tiles out among the subgroups it has). The language picks the unit (and so its
 * pieces) per tile.
 */
export interface MatrixOps {
  runs(warp: number): string;
  declare(acc: string, shape: MmaArg, d: DType, input: DType): string;
  step(acc: string, a: string, b: string, shape: MmaArg, input: DType): string;
  store(c: string, acc: string, shape: MmaArg, input: DType): string;
}

/** What a rendered body uses that its program must declare or its backend must bind. */
export interface Uses {
  /** Index checks: the program takes the status word they report through (GPUs). */
  readonly checks: boolean;
  /** f16 values anywhere (buffers, constants, casts). */
  readonly f16: boolean;
  /** bf16 values anywhere. */
  readonly bf16: boolean;
  /** Tensor-core fragments (TC). */
  readonly matrix: boolean;
  /** Params read as 4-vectors (VectorOps). */
  readonly vectors: ReadonlySet<number>;
}
/** A program's source and what its backend must know to compile and launch it. */
export interface Rendered {
  readonly source: string;
  readonly checks: boolean;
}

export const bufName = (i: number): string => `d${i}`;
const reduceAlu = (op: ReduceOp): AluOp => op;
export const reduceIdentity = (op: ReduceOp, d: DType): number | boolean =>
  op === 'ADD' ? (d === 'bool' ? false : 0) : op === 'MUL' ? (d === 'bool' ? true : 1) : minValue(d);

export function render(k: Kernel, insts: readonly Inst[], lang: Language): Rendered {
  const names = new Map<UOp, string>();
  let counter = 0,
    checks = false,
    matrix = false,
    f16 = false,
    bf16 = false;
  const seen = (d: DType): void => {
    f16 ||= d === 'f16';
    bf16 ||= d === 'bf16';
  };
  for (const p of k.params) seen(p.dtype);
  const vectors = lang.vector
    ? vectorLoads(k, insts, lang.vector.dtypes)
    : { params: new Set<number>(), lanes: new Map() };
  /** Per group of vector loads, the vector last declared and which of its lanes were named since. */
  const declared = new Map<string, { name: string; lanes: Set<number> }>();
  const name = (u: UOp, prefix: string): string => {
    const n = `${prefix}${counter++}`;
    names.set(u, n);
    seen(u.dtype);
    return n;
  };
  const ref = (u: UOp): string => {
    seen(u.dtype);
    if (u.op === 'CONST') return lang.literal(u.constValue, u.dtype);
    if (u.op === 'PARAM') return bufName(Number(u.arg));
    if (u.op === 'VAR') return lang.variable((u.arg as unknown as VarArg).index, u.dtype);
    if (u.op === 'SHARED' && !names.has(u)) {
      if (!lang.shared) throw new Error(`render ${k.name}: ${lang.name} has no workgroup memory for STAGE`);
      const arg = u.arg as unknown as SharedArg;
      shared.push(lang.shared(name(u, 'sm'), u.dtype, arg.size, arg.align));
    }
    const n = names.get(u);
    if (n === undefined) throw new Error(`render ${k.name}: ${u.op} used before it is defined`);
    return n;
  };
  const expr = (u: UOp): string => {
    switch (u.op) {
      case 'LOAD': {
        const [p, idx, gate] = u.src;
        return lang.load(
          ref(p!),
          ref(idx!),
          u.dtype,
          gate!.isConst && gate!.constValue === true ? undefined : ref(gate!),
        );
      }
      case 'CHECKED': {
        const [lo, hi, msg] = u.arg as [number, number, string];
        checks = true;
        return lang.checked(ref(u.src[0]!), lo, hi, msg);
      }
      default:
        return lang.alu(u.op as AluOp, u.src.map(ref), u.dtype, u.src[0]!.dtype);
    }
  };
  const lines: string[] = [],
    shared: string[] = [];
  const g = lanes(k);
  let depth = 1;
  const line = (s: string): void => void lines.push('  '.repeat(depth) + s);
  for (const inst of insts) {
    switch (inst.kind) {
      case 'loop': {
        const r = inst.range;
        const n = name(r, 'r');
        // globals open from the root in order, so the one global loop at depth 1 is the outermost
        line(
          r.range.kind === 'group'
            ? lang.loop(n, r.range.extent, 'first', g)
            : r.range.kind === 'global' && depth === 1 && lang.splitLoop
              ? lang.splitLoop(n)
              : lang.loop(n, r.range.extent),
        );
        depth++;
        break;
      }
      case 'end':
        depth--;
        line('}');
        break;
      case 'global':
        line(lang.globalIndex(name(inst.range, 'g'), inst.range, k));
        break;
      case 'acc': {
        const r = inst.reduce,
          op = r.arg as ReduceOp;
        if (r.src[0]!.op === 'MMA')
          line(matrixOps().declare(name(r, 'frag'), mmaOf(r), r.dtype, r.src[0]!.src[0]!.dtype));
        else line(lang.declare(name(r, 'acc'), r.dtype, lang.literal(reduceIdentity(op, r.dtype), r.dtype), true));
        break;
      }
      case 'update': {
        const r = inst.reduce,
          acc = ref(r);
        if (inst.value.op === 'MMA') {
          const [a, b] = inst.value.src,
            step = matrixOps().step(acc, ref(a!), ref(b!), mmaOf(r), a!.dtype);
          line(`if (${matrixOps().runs(mmaOf(r).warp)}) { ${step} }`);
        } else line(`${acc} = ${lang.alu(reduceAlu(r.arg as ReduceOp), [acc, ref(inst.value)], r.dtype, r.dtype)};`);
        break;
      }
      case 'tiles':
        tiles(inst.reduces);
        break;
      case 'value': {
        const l = vectors.lanes.get(inst.u);
        line(lang.declare(name(inst.u, 'v'), inst.u.dtype, l ? vectorLane(l) : expr(inst.u), false));
        break;
      }
      case 'combine':
        combine(inst.reduces);
        break;
      case 'store': {
        const st = lang.store(bufName(inst.param), ref(inst.index), ref(inst.value), k.params[inst.param]!.dtype);
        // GROUP: one lane stores; PADTO: the padded points do not
        const when = [...(g > 1 ? ['owner'] : []), ...(inst.gate ? [ref(inst.gate)] : [])];
        line(when.length ? `if (${when.join(' && ')}) { ${st} }` : st);
        break;
      }
      case 'barrier':
        if (!lang.barrier) throw new Error(`render ${k.name}: ${lang.name} has no barrier for STAGE`);
        line(lang.barrier);
        break;
      case 'stage': {
        const st = lang.store(ref(inst.shared), ref(inst.index), ref(inst.value), inst.shared.dtype);
        line(inst.gate ? `if (${ref(inst.gate)}) { ${st} }` : st);
        break;
      }
      default:
        inst satisfies never;
    }
  }
  return { source: lang.kernel(k, lines, shared, { checks, f16, bf16, matrix, vectors: vectors.params }), checks };

  /**
   * A lane of a group of vector loads: the group's vector is declared at its first lane, and again where a lane
   * comes round a second time (a reduce loop emits its own copies of the loads it shares with another).
   */
  function vectorLane(l: VectorLane): string {
    let v = declared.get(l.group);
    if (!v || v.lanes.has(l.lane)) {
      const at = l.base ? `(${ref(l.base)}) / 4${l.m ? ` + ${l.m}` : ''}` : `${l.m}`;
      // not vecN: a variable vec4 would hide WGSL's vec4 type from the code after it
      v = { name: `quad${counter++}`, lanes: new Set() };
      line(lang.vector!.declare(v.name, bufName(l.param), at, k.params[l.param]!.dtype));
      declared.set(l.group, v);
    }
    v.lanes.add(l.lane);
    return lang.vector!.lane(v.name, l.lane);
  }

  function matrixOps(): MatrixOps {
    if (!lang.matrix) throw new Error(`render ${k.name}: ${lang.name} has no tensor cores for TC`);
    matrix = true;
    return lang.matrix;
  }
  function mmaOf(r: UOp): MmaArg {
    return r.src[0]!.arg as unknown as MmaArg;
  }
  /** TC: each warp stores its tiles to workgroup memory; after a barrier every thread reads its own element. */
  function tiles(reduces: readonly UOp[]): void {
    for (const r of reduces) {
      const [, , c] = r.src[0]!.src;
      const store = matrixOps().store(ref(c!), ref(r), mmaOf(r), r.src[0]!.src[0]!.dtype);
      line(`if (${matrixOps().runs(mmaOf(r).warp)}) { ${store} }`);
    }
    if (!lang.barrier) throw new Error(`render ${k.name}: ${lang.name} has no barrier for TC`);
    line(lang.barrier);
    for (const r of reduces) {
      const [, , c, lid] = r.src[0]!.src,
        v = `acc${counter++}`;
      line(lang.declare(v, r.dtype, lang.load(ref(c!), ref(lid!), r.dtype), false));
      names.set(r, v);
    }
  }

  /** Every lane writes its partial, a tree halves the live lanes per step, then all lanes read lane 0's. */
  function combine(reduces: readonly UOp[]): void {
    if (!lang.shared || !lang.barrier)
      throw new Error(`render ${k.name}: ${lang.name} has no workgroup memory for GROUP`);
    const arrays = reduces.map((r) => {
      const sh = `sh${counter++}`;
      shared.push(lang.shared!(sh, r.dtype));
      line(`${sh}[slot] = ${ref(r)};`);
      return sh;
    });
    line(lang.barrier);
    for (let s = g / 2; s >= 1; s /= 2) {
      const steps = reduces.map((r, i) => {
        const [mine, other] = [`${arrays[i]}[slot]`, `${arrays[i]}[slot + ${s}]`];
        return `${mine} = ${lang.alu(reduceAlu(r.arg as ReduceOp), [mine, other], r.dtype, r.dtype)};`;
      });
      line(`if (lane < ${s}) { ${steps.join(' ')} }`);
      line(lang.barrier);
    }
    reduces.forEach((r, i) => line(`${ref(r)} = ${arrays[i]}[slot - lane];`));
  }
}
