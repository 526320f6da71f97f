// The user-facing Tensor: a handle on a lazy graph node. Ops validate their inputs, pick dtypes and
// broadcast, then build nodes; nothing runs until data()/tolist()/item()/realize().
import { type DType, isFloat, isHalf, isInt } from '../codegen/dtype.js';
import { rowElems } from '../codegen/shard.js';
import { type BinaryOp, type Bound, type ReduceOp, UOp } from '../codegen/uop.js';
import { Buffer, type TypedData } from './buffer.js';
export type { TypedData } from './buffer.js';
import { defaultDevice, getDevice } from './device.js';
import { broadcastShapes, checkFits, checkInt, checkScalar, checkShape, normAxis, show } from './shape.js';
import { floatOf, promoteOperands, promoteTypes, promoteWeak, scalarType } from './dtype.js';
import * as nodes from './nodes.js';
import {
  absNode,
  c,
  erfNode,
  erfcNode,
  expNode,
  expm1Node,
  floorDivNode,
  floorNode,
  fromOpmath,
  isInfNode,
  isNaNNode,
  log1pNode,
  minNode,
  mulc,
  negNode,
  notNode,
  powNode,
  powScalar,
  remNode,
  roundNode,
  sigmoidNode,
  tanhNode,
} from './math.js';
import * as ir from '../codegen/alu.js';
import { track } from './memory.js';
import * as nn from './nn.js';
import { markRealized, realizeTensors } from './realize.js';
import { type CompositeName, compositeOps, opTags, tagNodes } from './tags.js';

export type TensorLike = Tensor | number | boolean;
export type Nested = number | boolean | readonly Nested[];
export interface TensorOptions {
  readonly dtype?: DType;
  readonly device?: string;
}
export type Axis = number | readonly number[] | undefined;
/** var/std: the divisor is n - correction (PyTorch's `unbiased: false` is correction 0; give one of the two). */
export interface VarOptions {
  readonly correction?: number;
  readonly unbiased?: boolean;
  readonly keepdim?: boolean;
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;

/** A tensor argument, or `<op>: <what> must be a Tensor, got …` (a nested list is not one: wrap it in tensor()). */
function checkTensor(op: string, what: string, v: unknown): Tensor {
  if (!(v instanceof Tensor))
    throw new Error(
      `${op}: ${what} must be a Tensor, got ${show(v)}${Array.isArray(v) ? ' (wrap a list in tensor())' : ''}`,
    );
  return v;
}
/** An operand that may be a scalar: a Tensor, a number or a boolean (as PyTorch's Scalar; not a list, a string, 1n). */
function checkOperand(op: string, what: string, v: unknown): TensorLike {
  if (v instanceof Tensor || typeof v === 'number' || typeof v === 'boolean') return v;
  throw new Error(
    `${op}: ${what} must be a Tensor, a number or a boolean, got ${show(v)}` +
      `${Array.isArray(v) ? ' (wrap a list in tensor())' : ''}`,
  );
}
/** An options argument: an object (gelu('tanh') would otherwise read as no options). */
function options<T>(op: string, opts: T): T {
  if (typeof opts !== 'object' || opts === null || Array.isArray(opts))
    throw new Error(`${op}: options must be an object, got ${show(opts)}`);
  return opts;
}
/** PyTorch refuses floor division and remainder of bools. */
const noBool = (op: string) => (d: DType) => {
  if (d === 'bool') throw new Error(`${op}: dtype must be a number type, got bool (cast to i32 first)`);
  return d;
};

/** Values as nested lists, PyTorch-style: 4 decimals for floats, at most 3 + … + 3 entries along each dimension. */
function formatValues(v: TypedData, shape: readonly number[], dtype: DType): string {
  const one = (x: number): string =>
    dtype === 'bool' ? String(x !== 0) : isFloat(dtype) && Number.isFinite(x) ? x.toFixed(4) : String(x);
  const strides = shape.map((_, i) => prod(shape.slice(i + 1)));
  const dim = (d: number, off: number): string => {
    if (d === shape.length) return one(v[off]!);
    const n = shape[d]!,
      idx = n > 6 ? [0, 1, 2, -1, n - 3, n - 2, n - 1] : Array.from({ length: n }, (_, i) => i);
    return `[${idx.map((i) => (i < 0 ? '…' : dim(d + 1, off + i * strides[d]!))).join(', ')}]`;
  };
  return dim(0, 0);
}

export class Tensor {
  #node: UOp;
  #owned: Buffer | undefined;
  #disposed = false;
  readonly device: string;

  /**
   * @internal Wraps a graph node (owning a BUFFER node's buffer if `own`). Use tensor(), zeros(), … to make tensors.
   */
  constructor(node: UOp, device: string = defaultDevice(), own = true) {
    this.#node = node;
    this.device = device;
    if (own && node.op === 'BUFFER') this.#owned = (node.arg as unknown as Buffer).retain();
    track(this);
  }

  get shape(): number[] {
    return [...this.#node.shape];
  }
  get dtype(): DType {
    return this.#node.dtype;
  }
  get ndim(): number {
    return this.#node.shape.length;
  }
  get numel(): number {
    return prod(this.#node.shape);
  }
  get disposed(): boolean {
    return this.#disposed;
  }
  /** @internal The lazy graph node (throws once disposed). */
  node(op = 'use'): UOp {
    if (this.#disposed) throw new Error(`${op}: tensor ${fmt(this.#node.shape)} (${this.dtype}) was disposed`);
    return this.#node;
  }

  // ---------- making new tensors ----------
  /**
   * @internal A tensor on this device from a node, named `op` for kernel names, checked against the device's dtypes.
   */
  make(node: UOp, op: string): Tensor {
    if (!getDevice(this.device).caps.dtypes.has(node.dtype)) {
      throw new Error(
        `${op}: dtype ${node.dtype} is not supported on device ${this.device} (supported: ` +
          `${[...getDevice(this.device).caps.dtypes].join(', ')})`,
      );
    }
    tagNodes(node, op);
    // a result is lazy and owns nothing until realized, also a view that folds back onto an input's
    // buffer (x.T.T): temporaries inside matmul & co. never pin their inputs
    return new Tensor(node, this.device, false);
  }

  /**
   * Names the graph between `inputs` and this tensor as the composite op `op` (conv2d, matmul, …):
   * kernels and profiles then report it instead of its primitives (nested composites keep their names).
   */
  named(op: CompositeName, ...inputs: (Tensor | undefined)[]): Tensor {
    const stop = new Set(inputs.filter((t): t is Tensor => t !== undefined).map((t) => t.node(op)));
    // only what this op made, younger than its inputs: a movement fold (w.T.T is w) reaches below an input into
    // older graphs, whose nodes keep the op that made them (else a randn's kernel was named after a later matmul)
    const madeAfter = Math.max(-1, ...[...stop].map((u) => u.id));
    const seen = new Set<UOp>();
    const visit = (u: UOp): void => {
      if (seen.has(u) || stop.has(u) || u.op === 'BUFFER' || u.id <= madeAfter) return;
      seen.add(u);
      if (!compositeOps.has(opTags.get(u) ?? '')) opTags.set(u, op);
      u.src.forEach(visit);
    };
    opTags.set(this.node(op), op);
    this.node(op).src.forEach(visit);
    return this;
  }

  #operand(x: TensorLike, op: string, dtype: DType, shape: readonly number[]): UOp {
    if (x instanceof Tensor) {
      if (x.device !== this.device)
        throw new Error(`${op}: tensors are on different devices (${this.device}, ${x.device})`);
      return nodes.expand(
        nodes.reshape(ir.cast(x.node(op), dtype), [...new Array(shape.length - x.ndim).fill(1), ...x.shape]),
        shape,
      );
    }
    return nodes.konst(x, dtype, shape);
  }

  /** Promote, broadcast and combine with f. */
  #binary(
    other: TensorLike,
    op: string,
    f: (a: UOp, b: UOp, dt: DType) => UOp,
    dtypeOf: (d: DType) => DType = (d) => d,
  ): Tensor {
    checkOperand(op, 'other', other);
    const dt = dtypeOf(
      other instanceof Tensor ? promoteOperands(this, other) : promoteWeak(this.dtype, scalarType(other)),
    );
    const shape = other instanceof Tensor ? broadcastShapes(op, this.shape, other.shape) : this.shape;
    const [a, b] = [this.#operand(this, op, dt, shape), this.#operand(other, op, dt, shape)];
    return this.make(isHalf(dt) ? fromOpmath(f(ir.cast(a, 'f32'), ir.cast(b, 'f32'), 'f32'), dt) : f(a, b, dt), op);
  }

  #unary(op: string, f: (a: UOp) => UOp, dtypeOf: (d: DType) => DType = floatOf): Tensor {
    const x = ir.cast(this.node(op), dtypeOf(this.dtype));
    return this.make(isHalf(x.dtype) ? fromOpmath(f(ir.cast(x, 'f32')), x.dtype) : f(x), op);
  }

  // ---------- elementwise ----------
  add(o: TensorLike): Tensor {
    return this.#binary(o, 'add', (a, b, d) => (d === 'bool' ? ir.or(a, b) : ir.add(a, b)));
  }
  sub(o: TensorLike): Tensor {
    if (this.dtype === 'bool' && (o instanceof Tensor ? o.dtype === 'bool' : typeof o === 'boolean'))
      throw new Error('sub: subtracting bool tensors is not supported; use logicalXor');
    return this.#binary(o, 'sub', (a, b, d) => ir.add(a, negNode(b, d)));
  }
  mul(o: TensorLike): Tensor {
    return this.#binary(o, 'mul', (a, b, d) => (d === 'bool' ? ir.and(a, b) : ir.mul(a, b)));
  }
  div(o: TensorLike): Tensor {
    return this.#binary(o, 'div', (a, b) => ir.div(a, b), floatOf);
  }
  pow(o: TensorLike): Tensor {
    if (typeof o === 'number' && Number.isInteger(o) && o < 0 && !isFloat(promoteWeak(this.dtype, scalarType(o)))) {
      throw new Error(
        `pow: integers to negative integer powers are not allowed (${this.dtype} tensor ** ${o}); cast to f32 first ` +
          `for a float result`,
      );
    }
    return this.#binary(
      o,
      'pow',
      (a, b, d) => (typeof o === 'number' ? powScalar(a, o, d) : undefined) ?? powNode(a, b, d),
      (d) => (d === 'bool' ? 'i32' : d),
    );
  }
  maximum(o: TensorLike): Tensor {
    return this.#binary(o, 'maximum', (a, b) => ir.max(a, b));
  }
  minimum(o: TensorLike): Tensor {
    return this.#binary(o, 'minimum', minNode);
  }
  floorDiv(o: TensorLike): Tensor {
    return this.#binary(o, 'floorDiv', floorDivNode, noBool('floorDiv'));
  }
  remainder(o: TensorLike): Tensor {
    return this.#binary(o, 'remainder', remNode, noBool('remainder'));
  }
  lt(o: TensorLike): Tensor {
    return this.#binary(o, 'lt', (a, b) => ir.lt(a, b));
  }
  gt(o: TensorLike): Tensor {
    return this.#binary(o, 'gt', (a, b) => ir.lt(b, a));
  }
  eq(o: TensorLike): Tensor {
    return this.#binary(o, 'eq', (a, b) => notNode(ir.ne(a, b)));
  }
  ne(o: TensorLike): Tensor {
    return this.#binary(o, 'ne', (a, b) => ir.ne(a, b));
  }
  le(o: TensorLike): Tensor {
    return this.#binary(o, 'le', (a, b) => ir.or(ir.lt(a, b), notNode(ir.ne(a, b))));
  }
  ge(o: TensorLike): Tensor {
    return this.#binary(o, 'ge', (a, b) => ir.or(ir.lt(b, a), notNode(ir.ne(a, b))));
  }
  bitwiseAnd(o: TensorLike): Tensor {
    return this.#intBinary(o, 'bitwiseAnd', 'AND');
  }
  bitwiseOr(o: TensorLike): Tensor {
    return this.#intBinary(o, 'bitwiseOr', 'OR');
  }
  bitwiseXor(o: TensorLike): Tensor {
    return this.#intBinary(o, 'bitwiseXor', 'XOR');
  }
  #intBinary(o: TensorLike, op: string, code: BinaryOp): Tensor {
    const check = (d: DType) => {
      if (isFloat(d)) throw new Error(`${op}: expected integer or bool tensors, got ${d}`);
      return d;
    };
    return this.#binary(o, op, (a, b) => ir.binary(code, a, b), check);
  }
  logicalAnd(o: TensorLike): Tensor {
    return this.#binary(
      o,
      'logicalAnd',
      (a, b) => ir.and(a, b),
      () => 'bool',
    );
  }
  logicalOr(o: TensorLike): Tensor {
    return this.#binary(
      o,
      'logicalOr',
      (a, b) => ir.or(a, b),
      () => 'bool',
    );
  }
  logicalXor(o: TensorLike): Tensor {
    return this.#binary(
      o,
      'logicalXor',
      (a, b) => ir.ne(a, b),
      () => 'bool',
    );
  }
  logicalNot(): Tensor {
    return this.#unary('logicalNot', notNode, () => 'bool');
  }
  isnan(): Tensor {
    return this.#unary(
      'isnan',
      (x) => (isFloat(x.dtype) ? isNaNNode(x) : nodes.konst(false, 'bool', x.shape)),
      (d) => d,
    );
  }
  isinf(): Tensor {
    return this.#unary(
      'isinf',
      (x) => (isFloat(x.dtype) ? isInfNode(x) : nodes.konst(false, 'bool', x.shape)),
      (d) => d,
    );
  }
  isfinite(): Tensor {
    return this.#unary(
      'isfinite',
      (x) => (isFloat(x.dtype) ? notNode(ir.or(isNaNNode(x), isInfNode(x))) : nodes.konst(true, 'bool', x.shape)),
      (d) => d,
    );
  }
  where(a: TensorLike, b: TensorLike): Tensor {
    return where(this, a, b);
  }

  neg(): Tensor {
    if (this.dtype === 'bool') throw new Error('neg: negating a bool tensor is not supported; use logicalNot');
    return this.#unary(
      'neg',
      (x) => negNode(x, this.dtype),
      (d) => d,
    );
  }
  abs(): Tensor {
    return this.#unary(
      'abs',
      (x) => (this.dtype === 'u32' || this.dtype === 'bool' ? x : absNode(x)),
      (d) => d,
    );
  }
  exp(): Tensor {
    return this.#unary('exp', expNode);
  }
  exp2(): Tensor {
    return this.#unary('exp2', (x) => ir.unary('EXP2', x));
  }
  log(): Tensor {
    return this.#unary('log', (x) => ir.unary('LOG', x));
  }
  log2(): Tensor {
    return this.#unary('log2', (x) => ir.unary('LOG2', x));
  }
  sqrt(): Tensor {
    return this.#unary('sqrt', (x) => ir.unary('SQRT', x));
  }
  rsqrt(): Tensor {
    return this.#unary('rsqrt', (x) => ir.recip(ir.unary('SQRT', x)));
  }
  sin(): Tensor {
    return this.#unary('sin', (x) => ir.unary('SIN', x));
  }
  cos(): Tensor {
    return this.#unary('cos', (x) => ir.unary('COS', x));
  }
  tanh(): Tensor {
    return this.#unary('tanh', tanhNode);
  }
  sigmoid(): Tensor {
    return this.#unary('sigmoid', sigmoidNode);
  }
  relu(): Tensor {
    return this.#unary(
      'relu',
      (x) => ir.where(ir.lt(x, c(0, x)), c(0, x), x),
      (d) => d,
    );
  } // keeps -0 and NaN, as PyTorch
  leakyRelu(slope = 0.01): Tensor {
    checkScalar('leakyRelu', 'slope', slope, false);
    return this.#unary('leakyRelu', (x) => ir.where(ir.lt(c(0, x), x), x, mulc(x, slope)));
  }
  silu(): Tensor {
    return this.#unary('silu', (x) => ir.mul(x, sigmoidNode(x)));
  }
  gelu(opts: { approximate?: 'none' | 'tanh' } = {}): Tensor {
    const approximate = options('gelu', opts).approximate ?? 'none';
    if (approximate !== 'none' && approximate !== 'tanh')
      throw new Error(`gelu: approximate must be 'none' or 'tanh', got ${show(approximate)}`);
    return this.#unary('gelu', (x) => {
      if (approximate === 'tanh') {
        const inner = tanhNode(mulc(ir.add(x, mulc(ir.mul(x, ir.mul(x, x)), 0.044715)), Math.sqrt(2 / Math.PI)));
        return ir.mul(mulc(x, 0.5), ir.add(inner, c(1, x)));
      }
      // x/2 * erfc(-x/sqrt2): erfc keeps its relative accuracy in the negative tail, where 1 + erf cancels
      const e = erfcNode(absNode(mulc(x, Math.SQRT1_2)));
      return ir.mul(mulc(x, 0.5), ir.where(ir.lt(x, c(0, x)), e, ir.add(c(2, x), ir.neg(e))));
    });
  }
  erf(): Tensor {
    return this.#unary('erf', erfNode);
  }
  log1p(): Tensor {
    return this.#unary('log1p', log1pNode);
  }
  expm1(): Tensor {
    return this.#unary('expm1', expm1Node);
  }
  softplus(opts: { beta?: number; threshold?: number } = {}): Tensor {
    const { beta = 1, threshold = 20 } = options('softplus', opts);
    checkScalar('softplus', 'beta', beta, false);
    checkScalar('softplus', 'threshold', threshold, false);
    // log1p(e^(beta x)) / beta, linear above the threshold as PyTorch (no overflow, no lost tail)
    return this.#unary('softplus', (x) => {
      const bx = mulc(x, beta);
      return ir.where(ir.lt(c(threshold, x), bx), x, mulc(log1pNode(expNode(bx)), 1 / beta));
    });
  }
  elu(alpha = 1): Tensor {
    checkScalar('elu', 'alpha', alpha, false);
    return this.#unary('elu', (x) => ir.where(ir.lt(c(0, x), x), x, mulc(expm1Node(x), alpha)));
  }
  hardsigmoid(): Tensor {
    return this.#opmath((x) => x.add(3).clamp(0, 6).div(6)).named('hardsigmoid', this);
  }
  hardswish(): Tensor {
    return this.#opmath((x) => x.mul(x.hardsigmoid())).named('hardswish', this);
  }
  mish(): Tensor {
    return this.#opmath((x) => x.mul(x.softplus().tanh())).named('mish', this);
  }
  /** A composite computed in f32 for f16/bf16 inputs and rounded once (its steps would each round). */
  #opmath(f: (x: Tensor) => Tensor): Tensor {
    return f(nn.opmath(this.cast(floatOf(this.dtype)))).cast(floatOf(this.dtype));
  }
  /** torch.lerp: this + w (end - this) for w < 0.5, end - (end - this)(1 - w) above, so both ends are exact. */
  lerp(end: Tensor | number, weight: Tensor | number): Tensor {
    for (const [v, what] of [
      [end, 'end'],
      [weight, 'weight'],
    ] as const)
      if (!(v instanceof Tensor) && typeof v !== 'number')
        throw new Error(`lerp: ${what} must be a Tensor or a number, got ${show(v)}`);
    return this.#opmath((a) => {
      const b = end instanceof Tensor ? nn.opmath(end) : end,
        d = a.neg().add(b);
      if (typeof weight === 'number') return weight < 0.5 ? a.add(d.mul(weight)) : d.mul(weight - 1).add(b);
      const w = nn.opmath(weight);
      return w.lt(0.5).where(a.add(d.mul(w)), d.mul(w.sub(1)).add(b));
    }).named('lerp', this);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    if (checkTensor('maskedFill', 'mask', mask).dtype !== 'bool')
      throw new Error(`maskedFill: mask must be a bool tensor, got ${mask.dtype} (compare first, e.g. x.gt(0))`);
    checkFits('maskedFill', checkScalar('maskedFill', 'value', value), this.dtype);
    return where(mask, full([], value, { dtype: this.dtype, device: this.device }), this).named(
      'maskedFill',
      this,
      mask,
    ); // keeps this dtype
  }
  /** Elements on and below the k-th diagonal of the last two dims (triu: on and above); the rest 0. */
  tril(k = 0): Tensor {
    return this.#triangle('tril', k, true);
  }
  triu(k = 0): Tensor {
    return this.#triangle('triu', k, false);
  }
  #triangle(op: 'tril' | 'triu', k: number, lower: boolean): Tensor {
    if (this.ndim < 2) throw new Error(`${op}: expected at least 2 dims, got ${fmt(this.shape)}`);
    checkInt(op, 'k', k);
    const [n, m] = this.shape.slice(-2) as [number, number];
    const row = nodes.expand(nodes.reshape(nodes.arangeNode(n), [n, 1]), [n, m]),
      col = nodes.expand(nodes.reshape(nodes.arangeNode(m), [1, m]), [n, m]);
    const shifted = ir.add(row, nodes.konst(k, 'i32', [n, m]));
    const keep = lower ? notNode(ir.lt(shifted, col)) : notNode(ir.lt(col, shifted));
    return where(new Tensor(keep, this.device), this, full([], 0, { dtype: this.dtype, device: this.device })).named(
      op,
      this,
    );
  }
  clip(min?: number | Tensor, max?: number | Tensor): Tensor {
    return this.clamp(min, max);
  }
  square(): Tensor {
    return this.mul(this);
  }
  reciprocal(): Tensor {
    return this.#unary('reciprocal', (x) => ir.recip(x));
  }
  trunc(): Tensor {
    return this.#unary(
      'trunc',
      (x) => (isFloat(x.dtype) ? ir.unary('TRUNC', x) : x),
      (d) => d,
    );
  }
  floor(): Tensor {
    return this.#unary(
      'floor',
      (x) => (isFloat(x.dtype) ? floorNode(x) : x),
      (d) => d,
    );
  }
  ceil(): Tensor {
    return this.#unary(
      'ceil',
      (x) => (isFloat(x.dtype) ? negNode(floorNode(negNode(x, x.dtype)), x.dtype) : x),
      (d) => d,
    );
  }
  round(): Tensor {
    return this.#unary(
      'round',
      (x) => (isFloat(x.dtype) ? roundNode(x) : x),
      (d) => d,
    );
  }
  sign(): Tensor {
    return this.#unary(
      'sign',
      (x) => ir.where(ir.lt(c(0, x), x), c(1, x), ir.where(ir.lt(x, c(0, x)), c(-1, x), c(0, x))),
      (d) => d,
    );
  }
  clamp(min?: number | Tensor, max?: number | Tensor): Tensor {
    if (min !== undefined) checkOperand('clamp', 'min', min);
    if (max !== undefined) checkOperand('clamp', 'max', max);
    let t: Tensor = this;
    if (min !== undefined) t = t.maximum(min);
    if (max !== undefined) t = t.minimum(max);
    return t;
  }
  cast(dtype: DType): Tensor {
    return dtype === this.dtype ? this : this.make(ir.cast(this.node('cast'), dtype), 'cast');
  }

  // ---------- reductions ----------
  #axes(op: string, axis: Axis): number[] {
    if (axis === undefined) return this.shape.map((_, i) => i);
    if (this.ndim === 0) {
      normAxis(op, typeof axis === 'number' ? axis : (axis[0] ?? 0), 0);
      return [];
    } // PyTorch: dim 0 / -1 of a scalar
    if (typeof axis !== 'number' && !Array.isArray(axis))
      throw new Error(`${op}: axis must be an integer or a list of integers, got ${show(axis)}`);
    const list = typeof axis === 'number' ? [axis] : [...axis],
      axes = list.map((a) => normAxis(op, a, this.ndim));
    const twice = axes.find((a, i) => axes.indexOf(a) !== i);
    if (twice !== undefined)
      throw new Error(`${op}: axes must be distinct, got ${fmt(list)} (dim ${twice} appears more than once)`);
    return axes;
  }
  #reduce(
    op: string,
    code: ReduceOp,
    axis: Axis,
    keepdim: boolean,
    pre: (x: UOp) => UOp = (x) => x,
    post: (x: UOp) => UOp = (x) => x,
  ): Tensor {
    const axes = this.#axes(op, axis);
    const empty = axes.find((i) => this.shape[i] === 0);
    if (code === 'MAX' && this.dtype !== 'bool' && (op === 'max' || op === 'min') && empty !== undefined)
      throw new Error(
        `${op}: cannot reduce over dim ${empty} of ${fmt(this.shape)}: it is empty and ${op} has no identity`,
      );
    const r = post(nodes.reduce(pre(this.node(op)), code, axes));
    return this.make(
      keepdim
        ? r
        : nodes.reshape(
            r,
            r.shape.filter((_, i) => !axes.includes(i)),
          ),
      op,
    );
  }
  sum(axis?: Axis, keepdim = false): Tensor {
    const acc: DType = isFloat(this.dtype) ? 'f32' : 'i32';
    return this.#reduce(
      'sum',
      'ADD',
      axis,
      keepdim,
      (x) => ir.cast(x, acc),
      (x) => ir.cast(x, isFloat(this.dtype) ? this.dtype : 'i32'),
    );
  }
  prod(axis?: Axis, keepdim = false): Tensor {
    const acc: DType = isFloat(this.dtype) ? 'f32' : 'i32';
    return this.#reduce(
      'prod',
      'MUL',
      axis,
      keepdim,
      (x) => ir.cast(x, acc),
      (x) => ir.cast(x, isFloat(this.dtype) ? this.dtype : 'i32'),
    );
  }
  max(axis?: Axis, keepdim = false): Tensor {
    return this.#reduce('max', 'MAX', axis, keepdim);
  }
  min(axis?: Axis, keepdim = false): Tensor {
    const flip = (x: UOp) => (isFloat(x.dtype) ? negNode(x, x.dtype) : notNode(x));
    return this.#reduce('min', 'MAX', axis, keepdim, flip, flip);
  }
  /** Sums and scales in f32 (f16 statistics overflow, bf16 ones lose digits); returns the input's float dtype. */
  mean(axis?: Axis, keepdim = false): Tensor {
    const n = this.#axes('mean', axis).reduce((a, i) => a * this.shape[i]!, 1);
    return this.#reduce(
      'mean',
      'ADD',
      axis,
      keepdim,
      (x) => ir.cast(x, 'f32'),
      (x) => ir.cast(ir.div(x, c(n, x)), floatOf(this.dtype)),
    );
  }
  /**
   * The sum of squared deviations over max(0, n - correction) (Bessel's correction 1 by default; PyTorch's older
   * `unbiased: false` is correction 0). No divisor left gives NaN where the sum is 0 and inf elsewhere, as
   * PyTorch's x / 0, built here rather than left to a backend's division by zero.
   */
  var(axis?: Axis, opts: VarOptions = {}): Tensor {
    return this.#variance('var', axis, opts);
  }
  std(axis?: Axis, opts: VarOptions = {}): Tensor {
    // the square root before the f16 rounding (the variance may not fit)
    const v = this.cast('f32').#variance('std', axis, opts);
    return v.make(ir.cast(ir.unary('SQRT', v.node()), floatOf(this.dtype)), 'std');
  }
  #variance(op: 'var' | 'std', axis: Axis, opts: VarOptions): Tensor {
    const { correction, unbiased, keepdim = false } = options(op, opts);
    if (correction !== undefined && unbiased !== undefined)
      throw new Error(
        `${op}: give correction or unbiased, not both (got correction ${correction}, unbiased ${unbiased})`,
      );
    if (unbiased !== undefined && typeof unbiased !== 'boolean')
      throw new Error(`${op}: unbiased must be a boolean, got ${show(unbiased)}`);
    if (correction !== undefined && !(typeof correction === 'number' && Number.isFinite(correction)))
      throw new Error(`${op}: correction must be a finite number, got ${show(correction)}`);
    const n = this.#axes(op, axis).reduce((a, i) => a * this.shape[i]!, 1),
      divisor = n - (correction ?? (unbiased === false ? 0 : 1));
    const x = this.cast('f32');
    const d = x.sub(x.mean(axis, true));
    const s = d.mul(d).sum(axis, keepdim),
      sn = s.node();
    const v = divisor > 0 ? ir.div(sn, c(divisor, sn)) : ir.where(ir.lt(c(0, sn), sn), c(Infinity, sn), c(NaN, sn));
    return s.make(ir.cast(v, floatOf(this.dtype)), 'var');
  }
  /** True where any (all) element along the axes is nonzero. */
  any(axis?: Axis, keepdim = false): Tensor {
    return this.#reduce('any', 'MAX', axis, keepdim, (x) => ir.cast(x, 'bool'));
  }
  all(axis?: Axis, keepdim = false): Tensor {
    return this.#reduce('all', 'MAX', axis, keepdim, (x) => notNode(ir.cast(x, 'bool')), notNode);
  }
  /** log(sum(exp(x))) over dim, shifted by the max (an all -inf slice gives -inf, as PyTorch). */
  logsumexp(dim: Axis, keepdim = false): Tensor {
    if (this.#axes('logsumexp', dim).some((i) => this.shape[i] === 0)) {
      const s = this.cast(floatOf(this.dtype)).sum(dim, keepdim);
      return full(s.shape, -Infinity, { dtype: s.dtype, device: this.device }); // the log of an empty sum
    }
    const m = this.cast(floatOf(this.dtype)).max(dim, true);
    const shift = m.isinf().where(0, m);
    const out = this.sub(shift).exp().sum(dim, true).log().add(shift);
    return (keepdim ? out : out.squeeze(this.#axes('logsumexp', dim))).named('logsumexp', this);
  }
  /** Running sum along dim (one fused reduce against a triangular mask: O(n²) work, no sequential pass). */
  cumsum(dim: number): Tensor {
    const d = normAxis('cumsum', dim, this.ndim);
    if (this.ndim === 0) return this.add(0);
    const x = this.transpose(d, -1),
      n = x.shape[x.ndim - 1]!;
    const mask = full([n, n], true, { device: this.device }).tril(); // [i, j]: j <= i
    const out = mask.where(x.unsqueeze(-2), 0).sum(-1); // selected, not multiplied: inf * 0 would be NaN
    return out.transpose(d, -1).named('cumsum', this);
  }
  /** The p-norm over dim (p = 2, 1 or Infinity; all elements when dim is undefined). */
  norm(p: number = 2, dim?: Axis, keepdim = false): Tensor {
    const a = this.cast(floatOf(this.dtype)).abs();
    const r =
      p === 2
        ? a.square().sum(dim, keepdim).sqrt()
        : p === 1
          ? a.sum(dim, keepdim)
          : p === Infinity
            ? a.max(dim, keepdim)
            : undefined;
    if (!r) throw new Error(`norm: p=${p} is not supported (2, 1 or Infinity)`);
    return r.named('norm', this);
  }
  argmax(axis?: number, keepdim = false): Tensor {
    return this.#argbest('argmax', axis, keepdim, this);
  }
  argmin(axis?: number, keepdim = false): Tensor {
    return this.#argbest(
      'argmin',
      axis,
      keepdim,
      isFloat(this.dtype) ? this.neg() : this.make(notNode(this.node()), 'argmin'),
    );
  }
  #argbest(op: string, axis: number | undefined, keepdim: boolean, x: Tensor): Tensor {
    if (axis === undefined && this.numel === 0)
      throw new Error(
        `${op}: cannot reduce over all dims of ${fmt(this.shape)}: it is empty and ${op} has no identity`,
      );
    if (axis === undefined || this.ndim === 0) {
      if (axis !== undefined) normAxis(op, axis, 0);
      return this.flatten()
        .#argbest(op, 0, false, x.flatten())
        .reshape(keepdim && this.ndim ? this.shape.map(() => 1) : []);
    }
    const a = normAxis(op, axis, this.ndim),
      n = this.shape[a]!;
    if (n === 0)
      throw new Error(
        `${op}: cannot reduce over dim ${a} of ${fmt(this.shape)}: it is empty and ${op} has no identity`,
      );
    const shape = this.shape.map((s, i) => (i === a ? s : 1));
    const rev = new Tensor(
      ir.add(ir.mul(nodes.arangeNode(n), nodes.konst(-1, 'i32', [n])), nodes.konst(n, 'i32', [n])),
      this.device,
    ).reshape(shape);
    // PyTorch counts NaN as the largest value: the first NaN wins (tested on the bits: WGSL may compare NaN equal)
    const m = x.max(a, true),
      mx = nodes.expand(m.node(), x.shape);
    const best = isFloat(x.dtype)
      ? x.make(ir.where(isNaNNode(mx), isNaNNode(x.node()), notNode(ir.ne(x.node(), mx))), op)
      : x.eq(m);
    const first = best.where(rev, 0).max(a, keepdim).neg().add(n);
    return first.make(first.node(), op);
  }

  // ---------- movement (views) ----------
  reshape(...shape: (number | readonly number[])[]): Tensor {
    const s = shape.flat() as number[];
    const unknown = s.filter((x) => x === -1).length;
    if (unknown > 1 || s.some((x) => !Number.isSafeInteger(x) || x < -1))
      throw new Error(`reshape: shape must hold non-negative integers and at most one -1, got ${show(s)}`);
    const known = prod(s.filter((x) => x !== -1));
    const full = s.map((x) => (x === -1 ? (known === 0 ? 0 : this.numel / known) : x));
    if (prod(full) !== this.numel || full.some((x) => !Number.isInteger(x)))
      throw new Error(`reshape: cannot view shape ${fmt(this.shape)} (${this.numel} elements) as ${fmt(s)}`);
    return this.make(nodes.reshape(this.node('reshape'), full), 'reshape');
  }
  view(...shape: (number | readonly number[])[]): Tensor {
    return this.reshape(...shape);
  }
  permute(...dims: (number | readonly number[])[]): Tensor {
    const d = (dims.flat() as number[]).map((x) => normAxis('permute', x, this.ndim));
    if (d.length !== this.ndim || new Set(d).size !== d.length)
      throw new Error(
        `permute: ${fmt(dims.flat() as number[])} is not a permutation of the ${this.ndim} dims of ${fmt(this.shape)}`,
      );
    return this.make(nodes.permute(this.node('permute'), d), 'permute');
  }
  transpose(d0: number, d1: number): Tensor {
    if (d0 === undefined || d1 === undefined) {
      const given = [d0, d1].filter((d) => d !== undefined).length;
      throw new Error(`transpose: expected two dims (d0, d1), got ${given} (x.T reverses all)`);
    }
    const a = normAxis('transpose', d0, this.ndim),
      b = normAxis('transpose', d1, this.ndim);
    const order = this.shape.map((_, i) => (i === a ? b : i === b ? a : i));
    return this.permute(order);
  }
  get T(): Tensor {
    return this.permute(this.shape.map((_, i) => this.ndim - 1 - i));
  }
  expand(...shape: (number | readonly number[])[]): Tensor {
    const s = shape.flat() as number[];
    if (s.length < this.ndim) throw new Error(`expand: target ${fmt(s)} has fewer dims than ${fmt(this.shape)}`);
    if (s.some((x) => !Number.isSafeInteger(x) || x < -1))
      throw new Error(`expand: sizes must be non-negative integers or -1, got ${show(s)}`);
    const lead = s.slice(0, s.length - this.ndim).indexOf(-1);
    if (lead >= 0)
      throw new Error(`expand: size -1 keeps an existing dim, but dim ${lead} of ${fmt(s)} is a new leading one`);
    const src = [...new Array(s.length - this.ndim).fill(1), ...this.shape];
    const out = s.map((x, i) => (x === -1 ? src[i]! : x));
    out.forEach((x, i) => {
      if (src[i] !== 1 && src[i] !== x)
        throw new Error(`expand: cannot expand ${fmt(this.shape)} to ${fmt(s)} (dim ${i}: ${src[i]} vs ${x})`);
    });
    return this.make(nodes.expand(nodes.reshape(this.node('expand'), src), out), 'expand');
  }
  expandAs(o: Tensor): Tensor {
    return this.expand(o.shape);
  }
  /** PyTorch F.pad: a flat list [left, right, top, bottom, …] from the last dim; negative values crop. */
  pad(padding: readonly number[], value: number = 0): Tensor {
    if (!Array.isArray(padding) || padding.some((p) => !Number.isSafeInteger(p)))
      throw new Error(`pad: padding must be a list of integers, got ${show(padding)}`);
    checkFits('pad', checkScalar('pad', 'value', value), this.dtype);
    if (padding.length % 2 || padding.length / 2 > this.ndim)
      throw new Error(
        `pad: padding ${fmt(padding)} must have an even length of at most ${2 * this.ndim} for shape ` +
          `${fmt(this.shape)}`,
      );
    const pairs = this.shape.map((): [number, number] => [0, 0]);
    for (let i = 0; i < padding.length / 2; i++) pairs[this.ndim - 1 - i] = [padding[2 * i]!, padding[2 * i + 1]!];
    const crop = pairs.map(([a, b], i): [number, number] => [Math.max(0, -a), this.shape[i]! - Math.max(0, -b)]);
    if (crop.some(([lo, hi]) => hi < lo))
      throw new Error(`pad: cropping ${fmt(padding)} removes more than all of ${fmt(this.shape)}`);
    const x = nodes.shrink(this.node('pad'), crop);
    const p = pairs.map(([a, b]): [number, number] => [Math.max(0, a), Math.max(0, b)]);
    let out = nodes.pad(x, p);
    if (!Object.is(value, 0) && out !== x)
      out = ir.where(nodes.pad(nodes.konst(true, 'bool', x.shape), p), out, nodes.konst(value, this.dtype, out.shape));
    return this.make(out, 'pad');
  }
  shrink(ranges: readonly (readonly [number, number] | null)[]): Tensor {
    const r = this.shape.map((n, i): [number, number] => {
      const x = ranges[i] ?? [0, n];
      if (!Array.isArray(x) || x.length !== 2 || !x.every(Number.isSafeInteger))
        throw new Error(`shrink: range for dim ${i} must be two integers [lo, hi] or null, got ${show(x)}`);
      if (x[0] < 0 || x[1] > n || x[0] > x[1])
        throw new Error(`shrink: range [${x[0]}, ${x[1]}) out of bounds for dim ${i} of ${fmt(this.shape)}`);
      return [x[0], x[1]];
    });
    return this.make(nodes.shrink(this.node('shrink'), r), 'shrink');
  }
  slice(dim: number, start?: number, end?: number, step = 1): Tensor {
    const d = normAxis('slice', dim, this.ndim),
      n = this.shape[d]!;
    checkInt('slice', 'step', step, 1);
    if (start !== undefined) checkInt('slice', 'start', start);
    if (end !== undefined) checkInt('slice', 'end', end);
    const norm = (x: number | undefined, def: number) =>
      x === undefined ? def : Math.min(Math.max(x < 0 ? x + n : x, 0), n);
    const lo = norm(start, 0),
      hi = Math.max(norm(end, n), lo);
    let t = this.shrink(this.shape.map((_, i) => (i === d ? [lo, hi] : null)));
    if (step === 1) return t;
    const len = Math.ceil((hi - lo) / step);
    const padded = t.pad(padOf(t.ndim, d, 0, len * step - (hi - lo)));
    const split = [...t.shape.slice(0, d), len, step, ...t.shape.slice(d + 1)];
    t = padded.reshape(split).shrink(split.map((_, i) => (i === d + 1 ? [0, 1] : null)));
    return t.reshape(split.filter((_, i) => i !== d + 1));
  }
  narrow(dim: number, start: number, length: number): Tensor {
    const d = normAxis('narrow', dim, this.ndim);
    checkInt('narrow', 'start', start);
    checkInt('narrow', 'length', length, 0);
    if (start < 0 && start >= -this.shape[d]!) start += this.shape[d]!;
    if (start < 0 || start + length > this.shape[d]!)
      throw new Error(`narrow: [${start}, ${start + length}) is out of range for dim ${d} of ${fmt(this.shape)}`);
    return this.shrink(this.shape.map((_, i) => (i === d ? [start, start + length] : null)));
  }
  select(dim: number, index: number): Tensor {
    const d = normAxis('select', dim, this.ndim),
      n = this.shape[d]!;
    const i = checkInt('select', 'index', index) < 0 ? index + n : index;
    if (i < 0 || i >= n) throw new Error(`select: index ${index} is out of range for dim ${d} of ${fmt(this.shape)}`);
    return this.narrow(d, i, 1).squeeze(d);
  }
  flip(...dims: (number | readonly number[])[]): Tensor {
    const d = this.#axes('flip', dims.flat() as number[]);
    return this.make(
      nodes.flip(
        this.node('flip'),
        this.shape.map((_, i) => d.includes(i)),
      ),
      'flip',
    );
  }
  squeeze(dim?: number | readonly number[]): Tensor {
    const dims =
      dim === undefined
        ? this.shape.map((_, i) => i)
        : (typeof dim === 'number' ? [dim] : dim).map((x) => normAxis('squeeze', x, this.ndim));
    return this.reshape(this.shape.filter((n, i) => !(dims.includes(i) && n === 1)));
  }
  unsqueeze(dim: number): Tensor {
    const d = normAxis('unsqueeze', dim, this.ndim + 1);
    return this.reshape([...this.shape.slice(0, d), 1, ...this.shape.slice(d)]);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    if (this.ndim === 0) return this.reshape([1]);
    const a = normAxis('flatten', startDim, this.ndim),
      b = normAxis('flatten', endDim, this.ndim);
    if (a > b)
      throw new Error(
        `flatten: startDim must not come after endDim, got ${startDim} and ${endDim} for ${fmt(this.shape)}`,
      );
    return this.reshape([...this.shape.slice(0, a), prod(this.shape.slice(a, b + 1)), ...this.shape.slice(b + 1)]);
  }
  split(size: number | readonly number[], dim = 0): Tensor[] {
    const d = normAxis('split', dim, this.ndim),
      n = this.shape[d]!;
    if (typeof size === 'number')
      checkInt('split', 'size', size, n === 0 ? 0 : 1); // PyTorch: 0 splits only an empty dim
    else if (!Array.isArray(size) || size.some((x) => !Number.isSafeInteger(x) || x < 0))
      throw new Error(`split: size must be a positive integer or a list of non-negative integers, got ${show(size)}`);
    const sizes =
      typeof size === 'number'
        ? Array.from({ length: size ? Math.max(Math.ceil(n / size), 1) : 1 }, (_, i) => Math.min(size, n - i * size))
        : [...size];
    if (sizes.reduce((a, b) => a + b, 0) !== n)
      throw new Error(`split: sizes ${fmt(sizes)} do not add up to dim ${d} of ${fmt(this.shape)}`);
    let at = 0;
    return sizes.map((s) => {
      const t = this.narrow(d, at, s);
      at += s;
      return t;
    });
  }
  unbind(dim = 0): Tensor[] {
    const d = normAxis('unbind', dim, this.ndim);
    return Array.from({ length: this.shape[d]! }, (_, i) => this.select(d, i));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    checkInt('chunk', 'chunks', chunks, 1);
    const n = this.shape[normAxis('chunk', dim, this.ndim)]!;
    if (n === 0) return Array.from({ length: chunks }, () => this.narrow(dim, 0, 0)); // PyTorch: `chunks` empty pieces
    return this.split(Math.ceil(n / chunks), dim);
  }
  repeat(...times: (number | readonly number[])[]): Tensor {
    const r = times.flat() as number[];
    if (r.some((x) => !Number.isSafeInteger(x) || x < 0))
      throw new Error(`repeat: counts must be non-negative integers, got ${show(r)}`);
    if (r.length < this.ndim) throw new Error(`repeat: ${r.length} repeat counts for ${this.ndim} dims`);
    const base = [...new Array(r.length - this.ndim).fill(1), ...this.shape];
    const inter = base.flatMap((n) => [1, n]);
    return this.reshape(inter)
      .expand(base.flatMap((n, i) => [r[i]!, n]))
      .reshape(base.map((n, i) => n * r[i]!));
  }
  contiguous(): Tensor {
    return this.make(nodes.contiguous(this.node('contiguous')), 'contiguous');
  }
  /** A copy on another device (computed here first, then uploaded there). */
  async to(device: string): Promise<Tensor> {
    if (device === this.device) return this;
    const target = getDevice(device);
    if (!target.caps.dtypes.has(this.dtype))
      throw new Error(`to: dtype ${this.dtype} is not supported on device ${device}`);
    const data = await this.data();
    const buf = new Buffer(target, this.dtype, this.numel, rowElems(this.shape));
    buf.upload(this.dtype === 'bool' ? Array.from(data, (v) => v !== 0) : data);
    return new Tensor(UOp.make('BUFFER', this.dtype, [], buf, this.shape), device);
  }
  clone(): Tensor {
    return this.contiguous();
  }

  // ---------- nn ----------
  matmul(o: Tensor): Tensor {
    return nn.matmul(this, checkTensor('matmul', 'other', o));
  }
  bmm(o: Tensor): Tensor {
    checkTensor('bmm', 'other', o);
    if (this.ndim !== 3 || o.ndim !== 3 || this.shape[0] !== o.shape[0])
      throw new Error(`bmm: expected [B, n, k] and [B, k, m], got ${fmt(this.shape)} and ${fmt(o.shape)}`);
    return nn.matmul(this, o);
  }
  outer(o: Tensor): Tensor {
    checkTensor('outer', 'other', o);
    if (this.ndim !== 1 || o.ndim !== 1)
      throw new Error(`outer: expected two 1-D tensors, got ${fmt(this.shape)} and ${fmt(o.shape)}`);
    return this.unsqueeze(1).mul(o.unsqueeze(0)).named('outer', this, o);
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return nn.indexSelect(this, dim, index);
  }
  conv1d(weight: Tensor, bias?: Tensor, opts: nn.Conv1dOptions = {}): Tensor {
    return nn.conv1d(this, weight, bias, opts);
  }
  batchNorm(runningMean: Tensor, runningVar: Tensor, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return nn.batchNorm(this, runningMean, runningVar, weight, bias, eps);
  }
  linear(weight: Tensor, bias?: Tensor): Tensor {
    return nn.linear(this, weight, bias);
  }
  conv2d(weight: Tensor, bias?: Tensor, opts: nn.Conv2dOptions = {}): Tensor {
    return nn.conv2d(this, weight, bias, opts);
  }
  avgPool2d(kernel: number | readonly [number, number], opts: nn.PoolOptions = {}): Tensor {
    return nn.avgPool2d(this, kernel, opts);
  }
  maxPool2d(kernel: number | readonly [number, number], opts: nn.PoolOptions = {}): Tensor {
    return nn.maxPool2d(this, kernel, opts);
  }
  interpolate(opts: nn.InterpolateOptions): Tensor {
    return nn.interpolate(this, opts);
  }
  softmax(dim = -1): Tensor {
    return nn.softmax(this.#floats('softmax'), dim);
  }
  logSoftmax(dim = -1): Tensor {
    return nn.logSoftmax(this.#floats('logSoftmax'), dim);
  }
  /** PyTorch's softmax takes floats only: an integer or bool input is refused, not silently promoted. */
  #floats(op: string): this {
    if (!isFloat(this.dtype)) throw new Error(`${op}: input must be a float tensor, got ${this.dtype} (cast it first)`);
    return this;
  }
  layerNorm(normalizedShape: number | readonly number[], weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return nn.layerNorm(this, normalizedShape, weight, bias, eps);
  }
  groupNorm(numGroups: number, weight?: Tensor, bias?: Tensor, eps = 1e-5): Tensor {
    return nn.groupNorm(this, numGroups, weight, bias, eps);
  }
  embedding(weight: Tensor): Tensor {
    return nn.embedding(this, weight);
  }
  gather(dim: number, index: Tensor): Tensor {
    return nn.gather(this, dim, index);
  }
  scaledDotProductAttention(k: Tensor, v: Tensor, opts: nn.AttentionOptions = {}): Tensor {
    return nn.scaledDotProductAttention(this, k, v, opts);
  }

  // ---------- running and reading ----------
  async realize(): Promise<this> {
    await realize(this);
    return this;
  }

  /** @internal Adopts the computed buffer for this tensor's node. */
  adopt(buf: Buffer): void {
    if (this.#owned === buf) return;
    markRealized(this.#node, buf);
    this.#owned?.release();
    this.#owned = buf.retain();
    this.#node = UOp.make('BUFFER', this.dtype, [], buf, this.#node.shape);
  }

  async data(): Promise<TypedData> {
    // held while read: a dispose() meanwhile frees the buffer after the read, which still resolves
    const [buf] = await realizeTensors([this], 'data');
    try {
      return await buf!.download();
    } finally {
      buf!.release();
    }
  }
  async tolist(): Promise<Nested> {
    const d = Array.from(await this.data(), (v) => (this.dtype === 'bool' ? v !== 0 : v));
    const nest = (dim: number, off: number): Nested => {
      if (dim === this.ndim) return d[off]!;
      const stride = prod(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => nest(dim + 1, off + i * stride));
    };
    return nest(0, 0);
  }
  async item(): Promise<number | boolean> {
    if (this.numel !== 1) throw new Error(`item: tensor ${fmt(this.shape)} has ${this.numel} elements, expected 1`);
    const v = (await this.data())[0]!;
    return this.dtype === 'bool' ? v !== 0 : v;
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#owned?.release();
    this.#owned = undefined;
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
  toString(): string {
    return `Tensor(${fmt(this.shape)}, ${this.dtype}, ${this.device})`;
  }
  /**
   * console.log / util.inspect: shape, dtype, device and state, and the values of a realized tensor where the host
   * can read them at once (the CPU); elsewhere values are read with data(), asynchronously.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    const node = this.disposed ? undefined : this.node('inspect');
    const state = !node ? 'disposed' : node.op === 'BUFFER' ? 'realized' : 'lazy';
    const values = node?.op === 'BUFFER' ? (node.arg as unknown as Buffer).downloadNow() : undefined;
    const shown = values
      ? ` ${formatValues(values, this.shape, this.dtype)}`
      : state === 'realized'
        ? ' (values: await t.data())'
        : '';
    return `Tensor(${fmt(this.shape)}, ${this.dtype}, ${this.device}, ${state})${shown}`;
  }
}

/** Computes several tensors in one schedule. */
export async function realize(...tensors: Tensor[]): Promise<void> {
  for (const b of await realizeTensors(tensors, 'realize')) b.release();
}

export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (checkTensor('where', 'condition', cond).dtype !== 'bool')
    throw new Error(`where: condition must be a bool tensor, got ${cond.dtype} (compare first, e.g. x.gt(0))`);
  checkOperand('where', 'input', a);
  checkOperand('where', 'other', b);
  const dt =
    a instanceof Tensor && b instanceof Tensor
      ? promoteOperands(a, b)
      : a instanceof Tensor
        ? promoteWeak(a.dtype, scalarType(b as number))
        : b instanceof Tensor
          ? promoteWeak(b.dtype, scalarType(a))
          : promoteTypes(scalarType(a), scalarType(b));
  const shape = broadcastShapes(
    'where',
    cond.shape,
    ...[a, b].filter((x): x is Tensor => x instanceof Tensor).map((x) => x.shape),
  );
  const node = (x: TensorLike, d: DType): UOp =>
    x instanceof Tensor
      ? nodes.expand(
          nodes.reshape(ir.cast(x.node('where'), d), [...new Array(shape.length - x.ndim).fill(1), ...x.shape]),
          shape,
        )
      : nodes.konst(x, d, shape);
  for (const x of [a, b])
    if (x instanceof Tensor && x.device !== cond.device)
      throw new Error(`where: tensors are on different devices (${cond.device}, ${x.device})`);
  return cond.make(ir.where(node(cond, 'bool'), node(a, dt), node(b, dt)), 'where');
}

// ---------- node-level building blocks ----------
const padOf = (ndim: number, dim: number, before: number, after: number): number[] => {
  const p = new Array<number>(2 * (ndim - dim)).fill(0);
  p[2 * (ndim - 1 - dim)] = before;
  p[2 * (ndim - 1 - dim) + 1] = after;
  return p;
};
// ---------- creation ----------
/** Deeper nesting is a mistake (or an array that contains itself), not a tensor; the walk recurses once a level. */
const maxNesting = 1000;
function flattenNested(data: Nested, op: string): { values: (number | boolean)[]; shape: number[] } {
  const shape: number[] = [];
  for (let x: Nested = data; Array.isArray(x); x = (x as readonly Nested[])[0]!) {
    if (shape.length === maxNesting)
      throw new Error(`${op}: nested arrays must be at most ${maxNesting} levels deep, got more`);
    shape.push((x as readonly Nested[]).length);
  }
  const values: (number | boolean)[] = [];
  const walk = (x: Nested, depth: number): void => {
    if (depth === shape.length) {
      if (Array.isArray(x)) throw new Error(`${op}: ragged nested array: too deep at depth ${depth}`);
      if (typeof x !== 'number' && typeof x !== 'boolean')
        throw new Error(`${op}: expected numbers or booleans, got ${JSON.stringify(x) ?? typeof x}`);
      values.push(x as number | boolean);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[depth])
      throw new Error(
        `${op}: ragged nested array at depth ${depth}: expected length ${shape[depth]}, got ` +
          `${Array.isArray(x) ? x.length : 'a scalar'}`,
      );
    for (const y of x) walk(y, depth + 1);
  };
  walk(data, 0);
  return { values, shape };
}

export function tensor(
  data: Nested | ArrayLike<number>,
  opts: TensorOptions & { shape?: readonly number[] } = {},
): Tensor {
  const device = opts.device ?? defaultDevice();
  let values: ArrayLike<number | boolean>, shape: number[], dtype: DType;
  if (ArrayBuffer.isView(data)) {
    values = data as ArrayLike<number>;
    shape = opts.shape ? [...checkShape(opts.shape, 'tensor')] : [values.length];
    dtype = opts.dtype ?? (data instanceof Int32Array ? 'i32' : data instanceof Uint32Array ? 'u32' : 'f32');
  } else {
    const f = flattenNested(data as Nested, 'tensor');
    values = f.values;
    shape = opts.shape ? [...checkShape(opts.shape, 'tensor')] : f.shape;
    // the widest kind decides, as PyTorch: any number makes f32 (numbers are f32 here: JS has no 2 vs 2.0)
    dtype = opts.dtype ?? (f.values.length && f.values.every((v) => typeof v === 'boolean') ? 'bool' : 'f32');
  }
  if (prod(shape) !== values.length) throw new Error(`tensor: ${values.length} values do not fill shape ${fmt(shape)}`);
  const exact = (data instanceof Int32Array && dtype === 'i32') || (data instanceof Uint32Array && dtype === 'u32');
  if (isInt(dtype) && !exact) for (let i = 0; i < values.length; i++) checkFits('tensor', values[i]!, dtype);
  const backend = getDevice(device);
  if (!backend.caps.dtypes.has(dtype))
    throw new Error(
      `tensor: dtype ${dtype} is not supported on device ${device} (supported: ${[...backend.caps.dtypes].join(', ')})`,
    );
  const buf = new Buffer(backend, dtype, values.length, rowElems(shape));
  buf.upload(values);
  return new Tensor(UOp.make('BUFFER', dtype, [], buf, shape), device);
}

/**
 * A tensor uploaded piece by piece from `read(start, count)` (elements in row-major order): a weight streamed from a
 * file never sits whole in host memory, only one piece of at most `piece` elements at a time.
 */
export function streamTensor(
  shape: readonly number[],
  read: (start: number, count: number) => ArrayLike<number>,
  opts: TensorOptions & { piece?: number } = {},
): Tensor {
  const device = opts.device ?? defaultDevice(),
    backend = getDevice(device),
    dtype = opts.dtype ?? 'f32';
  checkShape(shape, 'tensor');
  if (!backend.caps.dtypes.has(dtype))
    throw new Error(
      `tensor: dtype ${dtype} is not supported on device ${device} (supported: ${[...backend.caps.dtypes].join(', ')})`,
    );
  const numel = prod(shape),
    buf = new Buffer(backend, dtype, numel, rowElems(shape));
  // pieces start at chunk starts and go in even steps, so every write lands 4-byte aligned whatever the dtype
  const piece = 2 * Math.max(1, Math.floor((opts.piece ?? 2 ** 24) / 2));
  try {
    for (let c = 0; c * buf.chunkElems < numel; c++) {
      const end = Math.min(numel, (c + 1) * buf.chunkElems);
      for (let at = c * buf.chunkElems; at < end; at += piece) {
        const n = Math.min(piece, end - at),
          values = read(at, n);
        if (values.length !== n) throw new Error(`tensor: a read of ${n} elements at ${at} gave ${values.length}`);
        buf.upload(values, at);
      }
    }
  } catch (e) {
    buf.free();
    throw e;
  }
  return new Tensor(UOp.make('BUFFER', dtype, [], buf, shape), device);
}

function lazy(node: UOp, opts: TensorOptions, op: string): Tensor {
  const device = opts.device ?? defaultDevice(),
    caps = getDevice(device).caps;
  if (!caps.dtypes.has(node.dtype))
    throw new Error(
      `${op}: dtype ${node.dtype} is not supported on device ${device} (supported: ${[...caps.dtypes].join(', ')})`,
    );
  tagNodes(node, op);
  return new Tensor(node, device);
}
export interface VariableOptions {
  readonly dtype?: 'f32' | 'i32' | 'u32' | 'bool';
  /**
   * Bounds of an integer variable (default: its dtype's range): index math simplifies within them, values outside are
   * refused.
   */
  readonly min?: number;
  readonly max?: number;
  /** For messages. */
  readonly name?: string;
  readonly device?: string;
}
let nextVariable = 0;
/**
 * A 0-d tensor whose value is a kernel argument, not part of the kernel: graphs that differ only in the values of
 * their variables share one schedule and one set of compiled kernels, and a jitted function takes new values on
 * every replay. Use it for numbers that change between calls (a timestep, a coefficient, a cursor position, a seed).
 */
export function variable(value: number | boolean, opts: VariableOptions = {}): Tensor {
  const dtype = opts.dtype ?? (typeof value === 'boolean' ? 'bool' : 'f32');
  const what = `variable${opts.name ? ` ${opts.name}` : ''}`;
  if (!['f32', 'i32', 'u32', 'bool'].includes(dtype))
    throw new Error(`${what}: dtype ${dtype} is not supported (f32, i32, u32 or bool; cast the result for others)`);
  if (typeof value !== 'number' && typeof value !== 'boolean')
    throw new Error(`${what}: expected a number or a boolean, got ${typeof value}`);
  const [lo, hi] =
    dtype === 'bool'
      ? [0, 1]
      : dtype === 'i32'
        ? [-2147483648, 2147483647]
        : dtype === 'u32'
          ? [0, 4294967295]
          : [-Infinity, Infinity];
  if (dtype === 'f32' && (opts.min !== undefined || opts.max !== undefined))
    throw new Error(`${what}: min and max apply to integer variables, not f32`);
  const min = opts.min ?? lo,
    max = opts.max ?? hi,
    v = Number(value);
  if (
    !(Number.isInteger(min) || min === lo) ||
    !(Number.isInteger(max) || max === hi) ||
    min < lo ||
    max > hi ||
    min > max
  ) {
    throw new Error(`${what}: bounds [${min}, ${max}] must be integers within the ${dtype} range [${lo}, ${hi}]`);
  }
  if (dtype !== 'f32' && !(Number.isInteger(v) && v >= min && v <= max))
    throw new Error(`${what}: ${value} is not a ${dtype} value in [${min}, ${max}]`);
  const bound: Bound = {
    uid: nextVariable++,
    value: dtype === 'f32' ? Math.fround(v) : v,
    min,
    max,
    name: opts.name ?? '',
  };
  return lazy(UOp.make('BIND', dtype, [], bound), opts, 'variable');
}

function filled(op: string, shape: readonly number[], value: number | boolean, opts: TensorOptions): Tensor {
  const dtype = opts.dtype ?? (typeof checkScalar(op, 'value', value) === 'boolean' ? 'bool' : 'f32');
  checkFits(op, value, dtype);
  return lazy(nodes.konst(value, dtype, checkShape(shape, op)), opts, 'full');
}
export const full = (shape: readonly number[], value: number | boolean, opts: TensorOptions = {}): Tensor =>
  filled('full', shape, value, opts);
export const zeros = (shape: readonly number[], opts: TensorOptions = {}): Tensor => filled('zeros', shape, 0, opts);
export const ones = (shape: readonly number[], opts: TensorOptions = {}): Tensor => filled('ones', shape, 1, opts);

export function arange(a: number, b?: number, step = 1, opts: TensorOptions = {}): Tensor {
  const [start, end] = b === undefined ? [0, a] : [a, b];
  for (const [v, what] of [
    [start, 'start'],
    [end, 'end'],
    [step, 'step'],
  ] as const)
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new Error(`arange: ${what} must be a finite number, got ${show(v)}`);
  if (step === 0) throw new Error('arange: step must be nonzero');
  if ((end - start) * step < 0)
    throw new Error(`arange: the range [${start}, ${end}) is inconsistent with the sign of step ${step}`);
  const n = Math.max(0, Math.ceil((end - start) / step));
  if (n > 2 ** 31 - 1)
    throw new Error(`arange: the range [${start}, ${end}) with step ${step} must have fewer than 2^31 elements`);
  const dtype = opts.dtype ?? ([start, end, step].every(Number.isInteger) ? 'i32' : 'f32');
  if (n > 0) for (const v of [start, start + (n - 1) * step]) checkFits('arange', v, dtype);
  // fractional steps: start + i * step in double, rounded once, as PyTorch (f32 math drifts by an ulp)
  if (!Number.isInteger(step) || !Number.isInteger(start))
    return tensor(
      Float64Array.from({ length: n }, (_, i) => start + i * step),
      { ...opts, dtype },
    );
  const i = ir.cast(nodes.arangeNode(n), dtype);
  return lazy(ir.add(ir.mul(i, nodes.konst(step, dtype, [n])), nodes.konst(start, dtype, [n])), opts, 'arange');
}
export function linspace(start: number, end: number, steps: number, opts: TensorOptions = {}): Tensor {
  checkScalar('linspace', 'start', start, false);
  checkScalar('linspace', 'end', end, false);
  checkInt('linspace', 'steps', steps, 0);
  if (opts.dtype) for (const v of [start, end]) checkFits('linspace', v, opts.dtype);
  // as PyTorch: in f32, the first half counted up from start and the second down from end (both ends exact),
  // then cast; an integer linspace truncates its ends first, then every value
  if (opts.dtype && !isFloat(opts.dtype)) [start, end] = [Math.trunc(start), Math.trunc(end)];
  if (steps === 1) return full([1], start, opts);
  const step = steps > 1 ? (end - start) / (steps - 1) : 0,
    k = (v: number) => nodes.konst(v, 'f32', [steps]);
  const i = ir.cast(nodes.arangeNode(steps), 'f32');
  const up = ir.add(ir.mul(i, k(step)), k(start));
  const down = ir.add(k(end), ir.mul(ir.add(k(steps - 1), ir.neg(i)), k(-step)));
  const v = ir.where(ir.lt(i, k(Math.floor(steps / 2))), up, down);
  return lazy(ir.cast(v, opts.dtype ?? 'f32'), opts, 'linspace');
}
export function eye(n: number, m = n, opts: TensorOptions = {}): Tensor {
  checkInt('eye', 'n', n, 0);
  checkInt('eye', 'm', m, 0);
  const r = nodes.expand(nodes.reshape(nodes.arangeNode(n), [n, 1]), [n, m]),
    col = nodes.expand(nodes.reshape(nodes.arangeNode(m), [1, m]), [n, m]);
  return lazy(ir.cast(ir.xor(ir.ne(r, col), nodes.konst(true, 'bool', [n, m])), opts.dtype ?? 'f32'), opts, 'eye');
}

/** A list of tensors for cat or stack: an array holding Tensors only. */
function tensorList(op: string, tensors: readonly Tensor[]): void {
  if (!Array.isArray(tensors)) throw new Error(`${op}: tensors must be a list of Tensors, got ${show(tensors)}`);
  if (!tensors.length) throw new Error(`${op}: expected at least one tensor`);
  tensors.forEach((t, i) => checkTensor(op, `tensors[${i}]`, t));
}
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  tensorList('cat', tensors);
  const t0 = tensors[0]!,
    d = normAxis('cat', dim, t0.ndim);
  if (tensors.some((t) => t.ndim === 0))
    throw new Error('cat: a 0-d tensor cannot be concatenated (use stack, or reshape to [1])');
  for (const t of tensors) {
    if (t.ndim !== t0.ndim || t.shape.some((n, i) => i !== d && n !== t0.shape[i])) {
      throw new Error(`cat: shapes ${tensors.map((x) => fmt(x.shape)).join(', ')} differ outside dim ${d}`);
    }
  }
  const total = tensors.reduce((a, t) => a + t.shape[d]!, 0);
  const dt = tensors.map((t) => t.dtype).reduce(promoteTypes);
  // each piece is selected where it lies (not added onto zero padding, which would turn -0 into +0)
  let at = 0,
    out: Tensor | undefined;
  for (const t of tensors) {
    const pads = padOf(t.ndim, d, at, total - at - t.shape[d]!);
    const p = t.cast(dt).pad(pads);
    out = out ? full(t.shape, true, { device: t.device }).pad(pads).where(p, out) : p;
    at += t.shape[d]!;
  }
  return out!.named('cat', ...tensors);
}
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  tensorList('stack', tensors);
  const s0 = tensors[0]!.shape;
  if (tensors.some((t) => t.ndim !== s0.length || t.shape.some((n, i) => n !== s0[i])))
    throw new Error(`stack: tensors must all have the same shape, got ${tensors.map((t) => fmt(t.shape)).join(', ')}`);
  const d = normAxis('stack', dim, tensors[0]!.ndim + 1);
  return cat(
    tensors.map((t) => t.unsqueeze(d)),
    d,
  );
}
