// What a contributed kernel is: the composite op it implements, when it applies, the cases it is checked and
// benchmarked on, and how it computes, in one of three kinds: pinned optimizer actions for the generated kernel,
// a kernel built in polygrad's own IR (renders to every target), or target source (WGSL, CUDA C, JS) with its
// launch geometry. A kernel file exports one `defineKernel({...})` as its default; kernels/index.ts lists them all.
import type { Caps } from '../backends/backend.js';
export type { Caps } from '../backends/backend.js';
import type { DType } from '../codegen/dtype.js';
export type { DType } from '../codegen/dtype.js';
import type { Opt } from '../codegen/kernel.js';
import type { UOp } from '../codegen/uop.js';
import type { CompositeName } from '../runtime/tags.js';

/** An expression of an IR kernel (what the builders take and make). */
export type Expr = UOp;

/** An input as a kernel sees it: a buffer read through strides (elements; 0 for a broadcast dim) from `offset`. */
export interface KernelInput {
  readonly shape: readonly number[];
  readonly dtype: DType;
  readonly strides: readonly number[];
  readonly offset: number;
}

/** The composite ops a kernel may implement, with what a call passes (the names Tensor.named uses). */
export interface CompositeArgs {
  /** a [..., n, k] @ b [..., k, m] (batch dims broadcast). */
  readonly matmul: { readonly a: KernelInput; readonly b: KernelInput };
  /** softmax along dim of x. */
  readonly softmax: { readonly x: KernelInput; readonly dim: number };
  /** softmax(q kᵀ · scale) v over [..., L, E] queries, [..., S, E] keys and [..., S, Ev] values (no mask). */
  readonly attention: {
    readonly q: KernelInput;
    readonly k: KernelInput;
    readonly v: KernelInput;
    readonly scale: number;
    readonly causal: boolean;
  };
  /** conv2d of x [N, C, H, W] with weight [Co, C / groups, kh, kw] (and a bias [Co]). */
  readonly conv2d: {
    readonly x: KernelInput;
    readonly w: KernelInput;
    readonly bias?: KernelInput;
    readonly stride: readonly [number, number];
    readonly padding: readonly [number, number];
    readonly dilation: readonly [number, number];
    readonly groups: number;
  };
  /** layerNorm of x over its last `dims` dims, then · w + b (each of those dims' shape, either absent). */
  readonly layerNorm: {
    readonly x: KernelInput;
    readonly w?: KernelInput;
    readonly b?: KernelInput;
    readonly dims: number;
    readonly eps: number;
  };
  /** groupNorm of x [N, C, ...] over `groups` groups of C / groups channels, then · w + b (each [C], either absent). */
  readonly groupNorm: {
    readonly x: KernelInput;
    readonly w?: KernelInput;
    readonly b?: KernelInput;
    readonly groups: number;
    readonly eps: number;
  };
}
/** Each is a name Tensor.named uses (runtime/tags.ts): a key that is none fails to type-check here. */
type Named<Op extends CompositeName> = Op;
export type CompositeOp = Named<keyof CompositeArgs>;

/** The tensor inputs of each op, in the order a kernel binds them after its output. */
export const inputOrder: { readonly [Op in CompositeOp]: readonly (keyof CompositeArgs[Op])[] } = {
  matmul: ['a', 'b'],
  softmax: ['x'],
  attention: ['q', 'k', 'v'],
  conv2d: ['x', 'w', 'bias'],
  layerNorm: ['x', 'w', 'b'],
  groupNorm: ['x', 'w', 'b'],
};

/** A target a source kernel is written for, by the language name of the backends that run it. */
export type Target = 'wgsl' | 'cuda' | 'js';
/** The kinds of device a kernel runs on, and the language each runs. */
export type DeviceKind = 'cpu' | 'webgpu' | 'cuda';
export const targetOf: Readonly<Record<DeviceKind, Target>> = { cpu: 'js', webgpu: 'wgsl', cuda: 'cuda' };

/** A shape a kernel is checked and benchmarked on: the inputs' shapes (and the op's other arguments). */
export interface KernelCase {
  readonly name: string;
  /** The inputs' shapes in the op's order (inputOrder); null for an optional one left out (a norm's weight). */
  readonly inputs: readonly (readonly number[] | null)[];
  readonly dtype?: 'f32' | 'f16' | 'bf16';
  /** Other arguments of the op (softmax's dim, attention's scale and causal flag, conv2d's padding). */
  readonly args?: Readonly<Record<string, unknown>>;
  /** Largest |got − want| / (1 + |want|) against the float64 reference (default 1e-4; f16 and bf16 cases need more). */
  readonly tol?: number;
  /** Inputs stored transposed and read through a transposed view (strides), as linear's weight is. */
  readonly transposed?: readonly number[];
}

/** Pinned optimizer actions: the generated kernel of the op, with these actions instead of the heuristic's. */
export interface OptsImpl {
  readonly kind: 'opts';
  readonly opts: readonly Opt[];
}
/**
 * A kernel in polygrad's IR: `build` returns the value of the output at every point of its shape, an expression over
 * the builder's globals (the point), loads and reduces, in f32; it renders to every target like a generated kernel.
 */
export interface IrImpl<Op extends CompositeOp> {
  readonly kind: 'ir';
  build(ir: IrBuilder, args: CompositeArgs[Op], out: { readonly shape: readonly number[]; readonly dtype: DType }): UOp;
}
/**
 * Target source: per target a function of the output dtype (and the call's arguments and the device's capabilities,
 * for what changes the program: an optional input, a head size, how much work one thread takes) to a complete
 * program. Its bindings are the output then the inputs present (inputOrder), as generated kernels bind them;
 * `values(args)` are its 32-bit arguments (shapes, strides; a float as its bits), read as the kernel's variables 0,
 * 1, …; `launch` says how many workgroups and threads per workgroup. A CUDA source's
 * entry point is named after the kernel.
 */
export interface SourceImpl<Op extends CompositeOp> {
  readonly kind: 'source';
  readonly sources: Partial<Record<Target, (dtype: DType, args: CompositeArgs[Op], caps: Caps) => string>>;
  values(args: CompositeArgs[Op]): readonly number[];
  launch(
    args: CompositeArgs[Op],
    caps: Caps,
  ): { readonly grid: readonly [number, number, number]; readonly block: number };
}

export interface KernelDef<Op extends CompositeOp = CompositeOp> {
  /** The file's name without .ts: kernels show as c_<name>_… in DEBUG=2 lines, profiles and traces. */
  readonly name: string;
  readonly op: Op;
  readonly description: string;
  /** The devices it runs on (a source kernel has a source for each one's language). */
  readonly devices: readonly DeviceKind[];
  /** Whether this kernel computes the op for these arguments on a device with these capabilities. */
  applies(args: CompositeArgs[Op], caps: Caps): boolean;
  readonly cases: readonly KernelCase[];
  readonly impl: OptsImpl | IrImpl<Op> | SourceImpl<Op>;
}

/** The builders an IR kernel is written with (see runtime/custom.ts for what each makes). */
export interface IrBuilder {
  /** Output axis d of the iteration space (a global range). */
  global(d: number): UOp;
  /** Element `index` (an i32 expression) of input i (of those present, in inputOrder), as f32; 0 where `valid` (a
   * bool expression) is false, which reads nothing (a padded border). */
  load(i: number, index: UOp, valid?: UOp): UOp;
  /** A reduction over a new range of `extent`: body(range) is summed (ADD) or maxed (MAX). */
  reduce(op: 'ADD' | 'MAX', extent: number, body: (r: UOp) => UOp): UOp;
  int(v: number): UOp;
  float(v: number): UOp;
  add(a: UOp, b: UOp): UOp;
  sub(a: UOp, b: UOp): UOp;
  mul(a: UOp, b: UOp): UOp;
  div(a: UOp, b: UOp): UOp;
  exp(a: UOp): UOp;
  max(a: UOp, b: UOp): UOp;
  sqrt(a: UOp): UOp;
  /** Integer division and remainder of i32 expressions (non-negative ones: both round toward zero). */
  idiv(a: UOp, b: UOp): UOp;
  mod(a: UOp, b: UOp): UOp;
  /** a < b, and the conjunction of two such bools. */
  lt(a: UOp, b: UOp): UOp;
  and(a: UOp, b: UOp): UOp;
  /** a where c holds, else b. */
  where(c: UOp, a: UOp, b: UOp): UOp;
  /** The flat element offset of an input at per-dim indices (its strides and offset applied). */
  at(input: KernelInput, idx: readonly UOp[]): UOp;
}

/** The one export of a kernel file: checks nothing at run time, only types the definition. */
export const defineKernel = <Op extends CompositeOp>(def: KernelDef<Op>): KernelDef<Op> => def;

/**
 * Whether a source kernel may read an input's rows as vec4s: each row contiguous, and its length, the offset and
 * every other stride multiples of 4 (so every row starts on a 4-vector).
 */
export const rowsByFours = (t: KernelInput): boolean =>
  t.strides.at(-1) === 1 && [t.shape.at(-1)!, t.offset, ...t.strides.slice(0, -1)].every((n) => n % 4 === 0);

/** A float's bits as an i32 (how a source kernel gets a float argument among its values). */
export function floatBits(v: number): number {
  const f = new Float32Array([v]);
  return new Int32Array(f.buffer)[0]!;
}

/**
 * The WGSL declarations a source kernel starts with: its bindings (output, then inputs) and its values; `width` 4
 * declares the float buffers as arrays of vec4 (one load or store moves four elements).
 */
export function wgslBindings(dtype: DType, inputs: readonly DType[], width: 1 | 4 = 1): string {
  const t = (d: DType) => (d === 'bool' ? 'u32' : width === 4 ? `vec4<${d}>` : d);
  return [
    ...(dtype === 'f16' || inputs.includes('f16') ? ['enable f16;'] : []),
    `@group(0) @binding(0) var<storage, read_write> d0: array<${t(dtype)}>;`,
    ...inputs.map((d, i) => `@group(0) @binding(${i + 1}) var<storage, read> d${i + 1}: array<${t(d)}>;`),
    '@group(1) @binding(0) var<uniform> pg_vars: array<vec4<u32>, 16>;',
    'fn arg(i: u32) -> i32 { return bitcast<i32>(pg_vars[i / 4u][i % 4u]); }',
    'fn argf(i: u32) -> f32 { return bitcast<f32>(pg_vars[i / 4u][i % 4u]); }',
    // WGSL refuses non-finite constant expressions: -inf comes from a runtime bitcast
    'fn neg_inf() -> f32 { var b = 0xff800000u; return bitcast<f32>(b); }',
  ].join('\n');
}
