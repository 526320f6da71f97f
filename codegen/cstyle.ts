// What WGSL and CUDA C share: infix operators and the shape of an ALU table. Each language supplies
// only its types, literals, function names, select/cast syntax and the kernel wrapper.
import type { DType } from './dtype.js';
import { type Kernel, isStaging, launchShape, lanes, lanesAdjacent, localTile } from './kernel.js';
import type { Language } from './render.js';
import type { AluOp, UnaryOp } from './uop.js';

export interface CStyle extends Omit<Language, 'alu'> {
  type(d: DType): string;
  /** Unary math by name for float dtypes (sqrt, exp2, …): CUDA picks f/half variants. */
  fn(op: Exclude<UnaryOp, 'NEG'>, a: string, d: DType): string;
  select(cond: string, t: string, f: string): string;
  cast(a: string, to: DType, from: DType): string;
  bitcast(a: string, to: DType, from: DType): string;
  /** a < b or a != b over operands of dtype `from`, with IEEE results for NaN. */
  compare(op: 'CMPLT' | 'CMPNE', a: string, b: string, from: DType): string;
  /** A shift amount in the type the language wants. */
  shift(b: string): string;
  /** max for dtype d; a NaN in either operand gives NaN, as in PyTorch. */
  max(a: string, b: string, d: DType): string;
  /** C's fmod for float dtype d (the remainder with the sign of a). */
  fmod(a: string, b: string, d: DType): string;
  /** bf16 has no arithmetic of its own in either language: its values widen to f32, and results narrow back. */
  readonly bf16: { widen(a: string): string; narrow(a: string): string };
}

/** Ops that move a bf16 value without computing on it, rendered on bf16 itself. */
const bf16Native = new Set<AluOp>(['CAST', 'BITCAST', 'WHERE']);

/** The ALU table every C-like language shares; integer division and modulo by zero give 0, as on the CPU. */
export function cAlu(l: CStyle): Language['alu'] {
  const alu = (op: AluOp, [a, b, c]: readonly string[], d: DType, from: DType): string => {
    const bool = d === 'bool';
    const zero = () => l.literal(0, d);
    switch (op) {
      case 'NEG':
        return `(-${a})`;
      case 'RECIP':
        return `(${l.literal(1, d)} / ${a})`;
      case 'SQRT':
      case 'EXP':
      case 'LOG':
      case 'EXP2':
      case 'LOG2':
      case 'SIN':
      case 'COS':
      case 'TRUNC':
        return l.fn(op, a!, d);
      case 'ADD':
        return `(${a} + ${b})`;
      case 'MUL':
        return `(${a} * ${b})`;
      case 'FDIV':
        return `(${a} / ${b})`;
      case 'IDIV':
        return l.select(`(${b} == ${zero()})`, zero(), `(${a} / ${b})`);
      case 'MOD':
        return d === 'f32' || d === 'f16'
          ? l.fmod(a!, b!, d)
          : l.select(`(${b} == ${zero()})`, zero(), `(${a} % ${b})`);
      case 'MAX':
        return bool ? `(${a} || ${b})` : l.max(a!, b!, d);
      case 'CMPLT':
      case 'CMPNE':
        return l.compare(op, a!, b!, from);
      case 'AND':
        return bool ? `(${a} && ${b})` : `(${a} & ${b})`;
      case 'OR':
        return bool ? `(${a} || ${b})` : `(${a} | ${b})`;
      case 'XOR':
        return bool ? `(${a} != ${b})` : `(${a} ^ ${b})`;
      case 'SHL':
        return `(${a} << ${l.shift(b!)})`;
      case 'SHR':
        return `(${a} >> ${l.shift(b!)})`;
      case 'WHERE':
        return l.select(a!, b!, c!);
      case 'CAST':
        return l.cast(a!, d, from);
      case 'BITCAST':
        return l.bitcast(a!, d, from);
      default:
        return op satisfies never;
    }
  };
  return (op, srcs, d, from) => {
    if ((d !== 'bf16' && from !== 'bf16') || bf16Native.has(op)) return alu(op, srcs, d, from);
    const r = alu(op, srcs.map(l.bf16.widen), d === 'bf16' ? 'f32' : d, 'f32');
    return d === 'bf16' ? l.bf16.narrow(r) : r;
  };
}

export const cLanguage = (l: CStyle): Language => ({ ...l, alu: cAlu(l) });

/**
 * Launch axis `axis` of the output `gidx` (row-major over the launch shape). Under LOCAL, consecutive runs of
 * `tile` outputs (one tile, row-major inside) cover a box of the launch space, and the tiles are row-major.
 */
export function gridCoord(k: Kernel, axis: number): string {
  const launch = launchShape(k),
    tile = localTile(k),
    size = tile.reduce((a, b) => a * b, 1);
  const after = (s: readonly number[]) => s.slice(axis + 1).reduce((a, b) => a * b, 1);
  const tiles = launch.map((n, d) => n / tile[d]!);
  const outer = `(gidx / ${size * after(tiles)}) % ${tiles[axis]}`;
  return tile[axis] === 1 ? outer : `(${outer}) * ${tile[axis]} + ((gidx % ${size}) / ${after(tile)}) % ${tile[axis]}`;
}

/**
 * The kernel prologue: `gidx`, the output this thread computes, from the workgroup index `wg` and local index
 * `lid` (both i32 expressions). Under GROUP, `lanes` adjacent threads share an output: they all run to the end
 * (barriers need every thread), the last workgroup's spare threads recompute the last output, `owner` stores,
 * `slot` is the thread's place in workgroup memory with the lanes of one output adjacent there, `first` its first
 * reduce iteration (past every range for the spare threads, which then only join the barriers).
 */
export function prologue(
  l: Pick<CStyle, 'declare' | 'select'>,
  k: Kernel,
  wg: string,
  lid: string,
  workgroupSize: number,
): string[] {
  const total = launchShape(k).reduce((a, b) => a * b, 1),
    g = lanes(k),
    per = workgroupSize / g;
  const i32 = (name: string, e: string) => `  ${l.declare(name, 'i32', e, false)}`;
  // STAGE's barriers need every thread of a workgroup: only whole workgroups past the end return (a uniform test)
  if (k.opts?.some(isStaging))
    return [
      i32('wgi', wg),
      `  if (wgi * ${workgroupSize} >= ${total}) { return; }`,
      i32('gidx', `wgi * ${workgroupSize} + ${lid}`),
    ];
  if (g === 1) return [i32('gidx', `${wg} * ${workgroupSize} + ${lid}`), `  if (gidx >= ${total}) { return; }`];
  return [
    i32('wgi', wg),
    `  if (wgi * ${per} >= ${total}) { return; }`,
    i32('lidx', lid),
    ...(lanesAdjacent(k)
      ? [i32('lane', `lidx % ${g}`), i32('gout', `wgi * ${per} + lidx / ${g}`), i32('slot', 'lidx')]
      : [
          i32('lane', `lidx / ${per}`),
          i32('gout', `wgi * ${per} + lidx % ${per}`),
          i32('slot', `(lidx % ${per}) * ${g} + lane`),
        ]),
    i32('gidx', `min(gout, ${total - 1})`),
    i32('first', total % per ? l.select(`gout < ${total}`, 'lane', '1073741824') : 'lane'),
    `  ${l.declare('owner', 'bool', `lane == 0 && gout < ${total}`, false)}`,
  ];
}
