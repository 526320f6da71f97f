// Scalar math as graph nodes: the building blocks Tensor ops are made of (PyTorch's semantics for floor division,
// pow, round, erf, tanh, NaN and signed zeros). Every function maps nodes of one shape to a node of that shape.
import { type DType, castValue, isFloat, isInt } from '../codegen/dtype.js';
import type { AluOp, UOp } from '../codegen/uop.js';
import * as nodes from './nodes.js';

export const alu = (op: AluOp, ...s: UOp[]): UOp => nodes.aluNode(op, s);
export const un = (op: AluOp, x: UOp): UOp => nodes.aluNode(op, [x]);
export const c = (v: number, like: UOp): UOp => nodes.konst(v, like.dtype, like.shape);
export const mulc = (x: UOp, v: number): UOp => alu('MUL', x, c(v, x));
/** A short Taylor series near 0 and `far` elsewhere: log1p and expm1 without relying on IEEE rounding tricks. */
function nearZero(x: UOp, coefs: readonly number[], far: UOp): UOp {
  const series = alu('MUL', x, coefs.slice(0, -1).reduceRight((acc, k) => alu('ADD', c(k, x), alu('MUL', x, acc)), c(coefs[coefs.length - 1]!, x)));
  return alu('WHERE', alu('CMPLT', absNode(x), c(0.1, x)), series, far);
}
/** log(1 + y): y - y²/2 + … for |y| < 0.1 (error < y⁸/8), log(1 + y) beyond, where 1 + y loses nothing that matters. */
export const log1pNode = (y: UOp): UOp => nearZero(y, [1, -1 / 2, 1 / 3, -1 / 4, 1 / 5, -1 / 6, 1 / 7], un('LOG', alu('ADD', c(1, y), y)));
/** e^x - 1: x + x²/2 + … for |x| < 0.1, e^x - 1 beyond. */
export const expm1Node = (x: UOp): UOp => nearZero(x, [1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720], alu('ADD', expNode(x), c(-1, x)));
/** f16 math runs in f32 and rounds once at the end (PyTorch's opmath): constants and intermediates keep f32 precision. */
export const fromOpmath = (r: UOp): UOp => (r.dtype === 'f32' ? castNode(r, 'f16') : r);
export const castNode = (x: UOp, d: DType): UOp => (x.dtype === d ? x : nodes.aluNode('CAST', [x], d));
export const notNode = (x: UOp): UOp => (x.dtype === 'bool' ? alu('XOR', x, nodes.konst(true, 'bool', x.shape)) : alu('XOR', x, nodes.konst(-1, x.dtype, x.shape)));
export const negNode = (x: UOp, d: DType): UOp => (d === 'u32' ? alu('MUL', x, nodes.konst(castValue(-1, 'u32') as number, 'u32', x.shape)) : un('NEG', x));
/** |x|; for floats + 0 turns -0 into +0. */
export const absNode = (x: UOp): UOp => {
  const a = alu('WHERE', alu('CMPLT', x, c(0, x)), un('NEG', x), x);
  return isFloat(x.dtype) ? alu('ADD', a, c(0, x)) : a;
};
// NaN and the sign bit are read from the bits: shader compilers may fold x != x to false and ignore -0
const bitsOf = (x: UOp, d: 'u32' | 'i32'): UOp => nodes.aluNode('BITCAST', [castNode(x, 'f32')], d);
export const isNaNNode = (x: UOp): UOp => alu('CMPLT', nodes.konst(0x7f800000, 'u32', x.shape), alu('AND', bitsOf(x, 'u32'), nodes.konst(0x7fffffff, 'u32', x.shape)));
export const isInfNode = (x: UOp): UOp => notNode(alu('CMPNE', alu('AND', bitsOf(x, 'u32'), nodes.konst(0x7fffffff, 'u32', x.shape)), nodes.konst(0x7f800000, 'u32', x.shape)));
/** x < 0 or x is -0 (the sign bit, for IEEE rules on zero). */
const signBitNode = (x: UOp): UOp => alu('CMPLT', bitsOf(x, 'i32'), nodes.konst(0, 'i32', x.shape));
const eqc = (x: UOp, v: number): UOp => notNode(alu('CMPNE', x, c(v, x)));
export const minNode = (a: UOp, b: UOp, d: DType): UOp => (isFloat(d) ? un('NEG', alu('MAX', un('NEG', a), un('NEG', b))) : alu('WHERE', alu('CMPLT', a, b), a, b));
/** e^x as its own primitive: exp2(x * log2 e) loses |x| * 2^-24 to the product's rounding (6e-6 relative at x = 80). */
export const expNode = (x: UOp): UOp => un('EXP', x);
export const sigmoidNode = (x: UOp): UOp => un('RECIP', alu('ADD', c(1, x), expNode(un('NEG', x))));
export const floorNode = (x: UOp): UOp => { const t = un('TRUNC', x); return alu('WHERE', alu('CMPLT', x, t), alu('ADD', t, c(-1, x)), t); };
export function roundNode(x: UOp): UOp {
  // half to even, as torch.round; x is compared with floor(x) + 0.5 (exact), never rounded through x + 0.5
  const f = floorNode(x), mid = alu('ADD', f, c(0.5, x)), up = alu('ADD', f, c(1, x));
  const odd = alu('CMPNE', alu('ADD', f, un('NEG', mulc(floorNode(mulc(f, 0.5)), 2))), c(0, x));
  const r = alu('WHERE', alu('CMPLT', x, mid), f, alu('WHERE', alu('OR', alu('CMPLT', mid, x), odd), up, f));
  const signed = alu('WHERE', eqc(r, 0), alu('WHERE', signBitNode(x), c(-0, x), c(0, x)), r);   // a zero result keeps the sign of x
  return alu('WHERE', isNaNNode(x), x, signed);
}
/** tanh as a rational function on [-lim, lim] (the form Eigen and XLA use, accurate to ~3e-7) and ±1 beyond. */
export function tanhNode(x: UOp): UOp {
  const lim = 7.90531110763549805, x2 = alu('MUL', x, x);
  const horner = (coefs: number[]): UOp => coefs.slice(1).reduce((acc, k) => alu('ADD', alu('MUL', acc, x2), c(k, x)), c(coefs[0]!, x));
  const p = alu('MUL', x, horner([-2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8, 1.48572235717979e-5, 6.37261928875436e-4, 4.89352455891786e-3]));
  const q = horner([1.19825839466702e-6, 1.18534705686654e-4, 2.268434632439e-3, 4.89352518554385e-3]);
  // past lim the rational is 1 - 2.4e-7 (then diverges): f32 tanh is exactly ±1 there; NaN takes the rational
  return alu('WHERE', alu('CMPLT', c(lim, x), absNode(x)), alu('WHERE', alu('CMPLT', x, c(0, x)), c(-1, x), c(1, x)), alu('MUL', p, un('RECIP', q)));
}
/** erfc(z) for z >= 0 (Numerical Recipes' erfcc): relative error < 1.2e-7 everywhere, tails included. */
export function erfcNode(z: UOp): UOp {
  const t = un('RECIP', alu('ADD', c(1, z), mulc(z, 0.5)));
  const coefs = [0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368, -1.26551223];
  const poly = coefs.slice(1).reduce((acc, k) => alu('ADD', alu('MUL', acc, t), c(k, z)), c(coefs[0]!, z));
  return alu('MUL', t, expNode(alu('ADD', un('NEG', alu('MUL', z, z)), poly)));
}
/** erf: a Taylor series near 0 (where 1 - erfc would cancel), 1 - erfc(|x|) with x's sign elsewhere. */
export function erfNode(x: UOp): UOp {
  const x2 = alu('MUL', x, x);
  const series = [-1 / 1320, 1 / 216, -1 / 42, 1 / 10, -1 / 3].reduce((acc, k) => alu('ADD', alu('MUL', acc, x2), c(k, x)), c(0, x));
  const small = mulc(alu('ADD', x, alu('MUL', x, alu('MUL', x2, series))), 2 / Math.sqrt(Math.PI));
  const big = alu('ADD', c(1, x), un('NEG', erfcNode(absNode(x))));
  return alu('WHERE', alu('CMPLT', absNode(x), c(0.5, x)), small, alu('WHERE', alu('CMPLT', x, c(0, x)), un('NEG', big), big));
}
/** PyTorch's floor division of floats: from fmod, so exact multiples and near-integer quotients come out right. */
function floorDivFloat(a: UOp, b: UOp): UOp {
  const mod = alu('MOD', a, b), q = alu('FDIV', a, b);
  let div = alu('FDIV', alu('ADD', a, un('NEG', mod)), b);
  div = alu('WHERE', signFix(mod, b), alu('ADD', div, c(-1, div)), div);
  const fl = floorNode(div);
  const rounded = alu('WHERE', alu('CMPLT', c(0.5, fl), alu('ADD', div, un('NEG', fl))), alu('ADD', fl, c(1, fl)), fl);
  const zero = alu('WHERE', signBitNode(q), c(-0, q), c(0, q));
  return alu('WHERE', eqc(b, 0), q, alu('WHERE', isNaNNode(div), c(NaN, q), alu('WHERE', eqc(div, 0), zero, rounded)));
}
/** A nonzero remainder whose sign differs from the divisor's: floor semantics move it by one divisor. */
const signFix = (r: UOp, b: UOp): UOp => alu('AND', alu('CMPNE', r, c(0, r)), alu('CMPNE', alu('CMPLT', r, c(0, r)), alu('CMPLT', b, c(0, b))));
export function floorDivNode(a: UOp, b: UOp, d: DType): UOp {
  if (isFloat(d)) return floorDivFloat(a, b);
  const q = alu('IDIV', a, b);
  if (d === 'u32') return q;
  const inexact = alu('CMPNE', alu('MOD', a, b), c(0, a));
  const signsDiffer = alu('CMPNE', alu('CMPLT', a, c(0, a)), alu('CMPLT', b, c(0, b)));
  return alu('WHERE', alu('AND', inexact, signsDiffer), alu('ADD', q, c(-1, q)), q);
}
export function remNode(a: UOp, b: UOp, d: DType): UOp {
  const r = alu('MOD', a, b);
  return d === 'u32' ? r : alu('WHERE', signFix(r, b), alu('ADD', r, b), r);
}
/** x ** y with C pow's real-valued semantics (PyTorch's): negative finite bases allow integer exponents only. */
export function powNode(a: UOp, b: UOp, d: DType): UOp {
  if (isInt(d)) return intPowNode(a, b);
  // zero and infinite bases spelled out: GPU log2/exp2 are unspecified there
  const absA = absNode(a), bNeg = alu('CMPLT', b, c(0, b));
  const mag = alu('WHERE', eqc(absA, 0), alu('WHERE', bNeg, c(Infinity, a), c(0, a)),
    alu('WHERE', eqc(absA, Infinity), alu('WHERE', bNeg, c(0, a), c(Infinity, a)), un('EXP2', alu('MUL', b, un('LOG2', absA)))));
  const bInt = alu('OR', eqc(alu('ADD', un('TRUNC', b), un('NEG', b)), 0), eqc(absNode(b), Infinity));   // ±inf counts as even
  const bOdd = eqc(alu('ADD', b, un('NEG', mulc(floorNode(mulc(b, 0.5)), 2))), 1);
  const signed = alu('WHERE', alu('AND', signBitNode(a), bOdd), un('NEG', mag), mag);
  const negFinite = alu('AND', alu('CMPLT', a, c(0, a)), alu('CMPNE', a, c(-Infinity, a)));
  const res = alu('WHERE', alu('AND', negFinite, notNode(bInt)), c(NaN, a), signed);
  const minusOneToInf = alu('AND', eqc(a, -1), eqc(absNode(b), Infinity));
  return alu('WHERE', alu('OR', alu('OR', eqc(b, 0), eqc(a, 1)), minusOneToInf), c(1, a), res);
}
/** Integer x ** y by square-and-multiply over the bits of y (exact, unlike exp2/log2 in f32); y < 0 as C's pow. */
function intPowNode(a: UOp, b: UOp): UOp {
  let result = c(1, a), base = a;
  for (let bit = 0; bit < 31 && 2 ** bit <= b.vmax; bit++) {
    const set = alu('CMPNE', alu('AND', b, c(2 ** bit, b)), c(0, b));
    result = alu('WHERE', set, alu('MUL', result, base), result);
    base = alu('MUL', base, base);
  }
  if (b.vmin >= 0) return result;
  const odd = alu('CMPNE', alu('AND', b, c(1, b)), c(0, b));
  const negative = alu('WHERE', eqc(a, 1), c(1, a), alu('WHERE', eqc(a, -1), alu('WHERE', odd, c(-1, a), c(1, a)), c(0, a)));
  return alu('WHERE', alu('CMPLT', b, c(0, b)), negative, result);
}
/** The exponents PyTorch computes without pow (exact or correctly rounded); undefined for the rest. */
export function powScalar(a: UOp, y: number, d: DType): UOp | undefined {
  const sq = (x: UOp): UOp => alu('MUL', x, x);
  if (y === 0) return c(1, a);
  if (y === 1) return a;
  if (y === 2) return sq(a);
  if (y === 3) return alu('MUL', sq(a), a);
  if (!isFloat(d)) return undefined;
  if (y === 0.5) return un('SQRT', a);
  if (y === -0.5) return un('RECIP', un('SQRT', a));
  if (y === -1) return un('RECIP', a);
  if (y === -2) return un('RECIP', sq(a));
  return undefined;
}

