// Scalar math as graph nodes: the building blocks Tensor ops are made of (PyTorch's semantics for floor division,
// pow, round, erf, tanh, NaN and signed zeros). Every function maps nodes of one shape to a node of that shape.
import { type DType, castValue, isFloat, isInt } from '../codegen/dtype.js';
import {
  add,
  and,
  binary,
  bitcast,
  cast,
  div,
  lt,
  max,
  mul,
  ne,
  neg,
  or,
  recip,
  unary,
  where,
  xor,
} from '../codegen/alu.js';
import type { UOp } from '../codegen/uop.js';
import * as nodes from './nodes.js';

export const c = (v: number, like: UOp): UOp => nodes.konst(v, like.dtype, like.shape);
export const mulc = (x: UOp, v: number): UOp => mul(x, c(v, x));
/** A short Taylor series near 0 and `far` elsewhere: log1p and expm1 without relying on IEEE rounding tricks. */
function nearZero(x: UOp, coefs: readonly number[], far: UOp): UOp {
  const series = mul(
    x,
    coefs.slice(0, -1).reduceRight((acc, k) => add(c(k, x), mul(x, acc)), c(coefs[coefs.length - 1]!, x)),
  );
  return where(lt(absNode(x), c(0.1, x)), series, far);
}
/** log(1 + y): y - y²/2 + … for |y| < 0.1 (error < y⁸/8), log(1 + y) beyond, where 1 + y loses nothing that matters. */
export const log1pNode = (y: UOp): UOp =>
  nearZero(y, [1, -1 / 2, 1 / 3, -1 / 4, 1 / 5, -1 / 6, 1 / 7], unary('LOG', add(c(1, y), y)));
/** e^x - 1: x + x²/2 + … for |x| < 0.1, e^x - 1 beyond. */
export const expm1Node = (x: UOp): UOp =>
  nearZero(x, [1, 1 / 2, 1 / 6, 1 / 24, 1 / 120, 1 / 720], add(expNode(x), c(-1, x)));
/**
 * f16 and bf16 math runs in f32 and rounds once at the end, to `d` (PyTorch's opmath): constants and intermediates
 * keep f32 precision.
 */
export const fromOpmath = (r: UOp, d: DType): UOp => (r.dtype === 'f32' ? cast(r, d) : r);
export const notNode = (x: UOp): UOp =>
  x.dtype === 'bool' ? xor(x, nodes.konst(true, 'bool', x.shape)) : xor(x, nodes.konst(-1, x.dtype, x.shape));
export const negNode = (x: UOp, d: DType): UOp =>
  d === 'u32' ? mul(x, nodes.konst(castValue(-1, 'u32') as number, 'u32', x.shape)) : neg(x);
/** |x|; for floats + 0 turns -0 into +0. */
export const absNode = (x: UOp): UOp => {
  const a = where(lt(x, c(0, x)), neg(x), x);
  return isFloat(x.dtype) ? add(a, c(0, x)) : a;
};
// NaN and the sign bit are read from the bits: shader compilers may fold x != x to false and ignore -0
const bitsOf = (x: UOp, d: 'u32' | 'i32'): UOp => bitcast(cast(x, 'f32'), d);
export const isNaNNode = (x: UOp): UOp =>
  lt(nodes.konst(0x7f800000, 'u32', x.shape), and(bitsOf(x, 'u32'), nodes.konst(0x7fffffff, 'u32', x.shape)));
export const isInfNode = (x: UOp): UOp =>
  notNode(ne(and(bitsOf(x, 'u32'), nodes.konst(0x7fffffff, 'u32', x.shape)), nodes.konst(0x7f800000, 'u32', x.shape)));
/** x < 0 or x is -0 (the sign bit, for IEEE rules on zero). */
const signBitNode = (x: UOp): UOp => lt(bitsOf(x, 'i32'), nodes.konst(0, 'i32', x.shape));
const eqc = (x: UOp, v: number): UOp => notNode(ne(x, c(v, x)));
export const minNode = (a: UOp, b: UOp, d: DType): UOp =>
  isFloat(d) ? neg(max(neg(a), neg(b))) : where(lt(a, b), a, b);
/** e^x as its own primitive: exp2(x * log2 e) loses |x| * 2^-24 to the product's rounding (6e-6 relative at x = 80). */
export const expNode = (x: UOp): UOp => unary('EXP', x);
export const sigmoidNode = (x: UOp): UOp => recip(add(c(1, x), expNode(neg(x))));
export const floorNode = (x: UOp): UOp => {
  const t = unary('TRUNC', x);
  return where(lt(x, t), add(t, c(-1, x)), t);
};
export function roundNode(x: UOp): UOp {
  // half to even, as torch.round; x is compared with floor(x) + 0.5 (exact), never rounded through x + 0.5
  const f = floorNode(x),
    mid = add(f, c(0.5, x)),
    up = add(f, c(1, x));
  const odd = ne(add(f, neg(mulc(floorNode(mulc(f, 0.5)), 2))), c(0, x));
  const r = where(lt(x, mid), f, where(or(lt(mid, x), odd), up, f));
  const signed = where(eqc(r, 0), where(signBitNode(x), c(-0, x), c(0, x)), r); // a zero result keeps the sign of x
  return where(isNaNNode(x), x, signed);
}
/** tanh as a rational function on [-lim, lim] (the form Eigen and XLA use, accurate to ~3e-7) and ±1 beyond. */
export function tanhNode(x: UOp): UOp {
  const lim = 7.905311107635498,
    x2 = mul(x, x);
  const horner = (coefs: number[]): UOp =>
    coefs.slice(1).reduce((acc, k) => add(mul(acc, x2), c(k, x)), c(coefs[0]!, x));
  const p = mul(
    x,
    horner([
      -2.76076847742355e-16, 2.00018790482477e-13, -8.60467152213735e-11, 5.12229709037114e-8, 1.48572235717979e-5,
      6.37261928875436e-4, 4.89352455891786e-3,
    ]),
  );
  const q = horner([1.19825839466702e-6, 1.18534705686654e-4, 2.268434632439e-3, 4.89352518554385e-3]);
  // past lim the rational is 1 - 2.4e-7 (then diverges): f32 tanh is exactly ±1 there; NaN takes the rational
  return where(lt(c(lim, x), absNode(x)), where(lt(x, c(0, x)), c(-1, x), c(1, x)), mul(p, recip(q)));
}
/** erfc(z) for z >= 0 (Numerical Recipes' erfcc): relative error < 1.2e-7 everywhere, tails included. */
export function erfcNode(z: UOp): UOp {
  const t = recip(add(c(1, z), mulc(z, 0.5)));
  const coefs = [
    0.17087277, -0.82215223, 1.48851587, -1.13520398, 0.27886807, -0.18628806, 0.09678418, 0.37409196, 1.00002368,
    -1.26551223,
  ];
  const poly = coefs.slice(1).reduce((acc, k) => add(mul(acc, t), c(k, z)), c(coefs[0]!, z));
  return mul(t, expNode(add(neg(mul(z, z)), poly)));
}
/** erf: a Taylor series near 0 (where 1 - erfc would cancel), 1 - erfc(|x|) with x's sign elsewhere. */
export function erfNode(x: UOp): UOp {
  const x2 = mul(x, x);
  const series = [-1 / 1320, 1 / 216, -1 / 42, 1 / 10, -1 / 3].reduce((acc, k) => add(mul(acc, x2), c(k, x)), c(0, x));
  const small = mulc(add(x, mul(x, mul(x2, series))), 2 / Math.sqrt(Math.PI));
  const big = add(c(1, x), neg(erfcNode(absNode(x))));
  return where(lt(absNode(x), c(0.5, x)), small, where(lt(x, c(0, x)), neg(big), big));
}
/** PyTorch's floor division of floats: from fmod, so exact multiples and near-integer quotients come out right. */
function floorDivFloat(a: UOp, b: UOp): UOp {
  const mod = binary('MOD', a, b),
    q = div(a, b);
  let exact = div(add(a, neg(mod)), b);
  exact = where(signFix(mod, b), add(exact, c(-1, exact)), exact);
  const fl = floorNode(exact);
  const rounded = where(lt(c(0.5, fl), add(exact, neg(fl))), add(fl, c(1, fl)), fl);
  const zero = where(signBitNode(q), c(-0, q), c(0, q));
  return where(eqc(b, 0), q, where(isNaNNode(exact), c(NaN, q), where(eqc(exact, 0), zero, rounded)));
}
/** A nonzero remainder whose sign differs from the divisor's: floor semantics move it by one divisor. */
const signFix = (r: UOp, b: UOp): UOp => and(ne(r, c(0, r)), ne(lt(r, c(0, r)), lt(b, c(0, b))));
export function floorDivNode(a: UOp, b: UOp, d: DType): UOp {
  if (isFloat(d)) return floorDivFloat(a, b);
  const q = binary('IDIV', a, b);
  if (d === 'u32') return q;
  const inexact = ne(binary('MOD', a, b), c(0, a));
  const signsDiffer = ne(lt(a, c(0, a)), lt(b, c(0, b)));
  return where(and(inexact, signsDiffer), add(q, c(-1, q)), q);
}
export function remNode(a: UOp, b: UOp, d: DType): UOp {
  const r = binary('MOD', a, b);
  return d === 'u32' ? r : where(signFix(r, b), add(r, b), r);
}
/** x ** y with C pow's real-valued semantics (PyTorch's): negative finite bases allow integer exponents only. */
export function powNode(a: UOp, b: UOp, d: DType): UOp {
  if (isInt(d)) return intPowNode(a, b);
  // zero and infinite bases spelled out: GPU log2/exp2 are unspecified there
  const absA = absNode(a),
    bNeg = lt(b, c(0, b));
  const mag = where(
    eqc(absA, 0),
    where(bNeg, c(Infinity, a), c(0, a)),
    where(eqc(absA, Infinity), where(bNeg, c(0, a), c(Infinity, a)), unary('EXP2', mul(b, unary('LOG2', absA)))),
  );
  const bInt = or(eqc(add(unary('TRUNC', b), neg(b)), 0), eqc(absNode(b), Infinity)); // ±inf counts as even
  const bOdd = eqc(add(b, neg(mulc(floorNode(mulc(b, 0.5)), 2))), 1);
  const signed = where(and(signBitNode(a), bOdd), neg(mag), mag);
  const negFinite = and(lt(a, c(0, a)), ne(a, c(-Infinity, a)));
  const res = where(and(negFinite, notNode(bInt)), c(NaN, a), signed);
  const minusOneToInf = and(eqc(a, -1), eqc(absNode(b), Infinity));
  return where(or(or(eqc(b, 0), eqc(a, 1)), minusOneToInf), c(1, a), res);
}
/** Integer x ** y by square-and-multiply over the bits of y (exact, unlike exp2/log2 in f32); y < 0 as C's pow. */
function intPowNode(a: UOp, b: UOp): UOp {
  let result = c(1, a),
    base = a;
  for (let bit = 0; bit < 31 && 2 ** bit <= b.vmax; bit++) {
    const set = ne(and(b, c(2 ** bit, b)), c(0, b));
    result = where(set, mul(result, base), result);
    base = mul(base, base);
  }
  if (b.vmin >= 0) return result;
  const odd = ne(and(b, c(1, b)), c(0, b));
  const negative = where(eqc(a, 1), c(1, a), where(eqc(a, -1), where(odd, c(-1, a), c(1, a)), c(0, a)));
  return where(lt(b, c(0, b)), negative, result);
}
/** The exponents PyTorch computes without pow (exact or correctly rounded); undefined for the rest. */
export function powScalar(a: UOp, y: number, d: DType): UOp | undefined {
  const sq = (x: UOp): UOp => mul(x, x);
  if (y === 0) return c(1, a);
  if (y === 1) return a;
  if (y === 2) return sq(a);
  if (y === 3) return mul(sq(a), a);
  if (!isFloat(d)) return undefined;
  if (y === 0.5) return unary('SQRT', a);
  if (y === -0.5) return recip(unary('SQRT', a));
  if (y === -1) return recip(a);
  if (y === -2) return recip(sq(a));
  return undefined;
}
