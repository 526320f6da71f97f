// Building ALU nodes: constant folding and the integer rewrites that keep index math small
// (linear forms, div/mod folding by value ranges). Float math is only folded when all inputs are constants.
import { type DType, castValue, isFloat, isInt } from './dtype.js';
import { type AluOp, type BinaryOp, type UnaryOp, UOp, constOf, isAlu } from './uop.js';

const f32 = new Float32Array(1),
  i32 = new Int32Array(f32.buffer),
  u32 = new Uint32Array(f32.buffer);

/** Scalar semantics of every ALU op; the JS renderer emits the same operations. */
export function evalAlu(op: AluOp, dtype: DType, v: (number | boolean)[], srcDtype: DType): number | boolean {
  const [a, b, c] = v as number[];
  const r = (x: number | boolean) => castValue(x, dtype);
  switch (op) {
    case 'NEG':
      return r(-a!);
    case 'RECIP':
      return r(1 / a!);
    case 'SQRT':
      return r(Math.sqrt(a!));
    case 'EXP2':
      return r(2 ** a!);
    case 'LOG2':
      return r(Math.log2(a!));
    case 'EXP':
      return r(Math.exp(a!));
    case 'LOG':
      return r(Math.log(a!));
    case 'SIN':
      return r(Math.sin(a!));
    case 'COS':
      return r(Math.cos(a!));
    case 'TRUNC':
      return r(Math.trunc(a!));
    case 'ADD':
      return r(a! + b!);
    case 'MUL':
      return dtype === 'i32' || dtype === 'u32' ? r(Math.imul(a!, b!)) : r(a! * b!);
    case 'FDIV':
      return r(a! / b!);
    case 'IDIV':
      return b === 0 ? r(0) : r(Math.trunc(a! / b!));
    case 'MOD':
      return b === 0 && !isFloat(dtype) ? r(0) : r(a! % b!); // floats: C fmod
    case 'MAX':
      return dtype === 'bool'
        ? Boolean(a) || Boolean(b)
        : r(Number.isNaN(a!) || Number.isNaN(b!) ? NaN : Math.max(a!, b!));
    case 'CMPLT':
      return Number(a) < Number(b);
    case 'CMPNE':
      return Number(a) !== Number(b);
    case 'AND':
      return dtype === 'bool' ? Boolean(a) && Boolean(b) : r(a! & b!);
    case 'OR':
      return dtype === 'bool' ? Boolean(a) || Boolean(b) : r(a! | b!);
    case 'XOR':
      return dtype === 'bool' ? Boolean(a) !== Boolean(b) : r(a! ^ b!);
    case 'SHL':
      return r(a! << b!);
    case 'SHR':
      return dtype === 'u32' ? r(a! >>> b!) : r(a! >> b!);
    case 'WHERE':
      return v[0] ? r(b!) : r(c!);
    case 'CAST':
      return r(v[0]!);
    case 'BITCAST': {
      if (srcDtype === 'f32') f32[0] = a!;
      else if (srcDtype === 'i32') i32[0] = a!;
      else u32[0] = a!;
      return dtype === 'f32' ? f32[0]! : dtype === 'i32' ? i32[0]! : u32[0]!;
    }
    default:
      return op satisfies never;
  }
}

const resultDtype = (op: AluOp, srcs: readonly UOp[]): DType =>
  op === 'CMPLT' || op === 'CMPNE' ? 'bool' : srcs[op === 'WHERE' ? 1 : 0]!.dtype;

/** The node for op over srcs (tensor-level srcs must share one shape), simplified where that is exact. */
export function alu(op: AluOp, srcs: readonly UOp[], dtype: DType = resultDtype(op, srcs)): UOp {
  const shape = srcs[op === 'WHERE' ? 1 : 0]!.shape;
  if (srcs.every((s) => s.isConst)) {
    return constOf(
      evalAlu(
        op,
        dtype,
        srcs.map((s) => s.constValue),
        srcs[0]!.dtype,
      ),
      dtype,
      shape,
    );
  }
  const simpler = isInt(dtype) || dtype === 'bool' ? simplifyInt(op, srcs, dtype) : simplifyAny(op, srcs, dtype);
  return simpler ?? UOp.make(op, dtype, srcs, null, shape);
}

function simplifyAny(op: AluOp, [a, b, c]: readonly UOp[], dtype: DType): UOp | undefined {
  if (op === 'CAST' && a!.dtype === dtype) return a;
  if (op === 'MUL' && b!.isConst && b!.constValue === 1) return a;
  if (op === 'MUL' && a!.isConst && a!.constValue === 1) return b;
  if (op === 'WHERE' && a!.isConst) return a!.constValue ? b : c;
  if (op === 'WHERE' && b === c) return b;
  return undefined;
}

const isC = (u: UOp, v: number | boolean): boolean => u.isConst && Number(u.constValue) === Number(v);

function simplifyInt(op: AluOp, srcs: readonly UOp[], dtype: DType): UOp | undefined {
  const [a, b] = srcs;
  const generic = simplifyAny(op, srcs, dtype);
  if (generic) return generic;
  // value ranges decide comparisons of ints only (a float may be NaN); div/mod folding assumes i32 (u32 wraps)
  if (isFloat(a!.dtype)) return undefined;
  // as evalAlu (WGSL rejects a literal / 0)
  if ((op === 'IDIV' || op === 'MOD') && isC(b!, 0)) return constOf(0, dtype, a!.shape);
  switch (op) {
    case 'ADD':
    case 'MUL': {
      if (op === 'MUL' && (isC(a!, 0) || isC(b!, 0))) return constOf(0, dtype, a!.shape);
      if (a!.shape.length || dtype !== 'i32')
        return op === 'ADD' && isC(b!, 0) ? a : op === 'ADD' && isC(a!, 0) ? b : undefined;
      return fromLinear(linear(UOp.make(op, dtype, srcs)));
    }
    case 'IDIV':
      return dtype !== 'i32'
        ? undefined
        : b!.isConst && Number(b!.constValue) > 0 && a!.vmin >= 0 && !a!.shape.length
          ? foldDiv(a!, Number(b!.constValue))
          : undefined;
    case 'MOD':
      return dtype !== 'i32'
        ? undefined
        : b!.isConst && Number(b!.constValue) > 0 && a!.vmin >= 0 && !a!.shape.length
          ? foldMod(a!, Number(b!.constValue))
          : undefined;
    case 'MAX':
      if (a!.vmin >= b!.vmax) return a;
      if (b!.vmin >= a!.vmax) return b;
      return undefined;
    case 'CMPLT':
      if (a!.vmax < b!.vmin) return constOf(true, 'bool', a!.shape);
      if (a!.vmin >= b!.vmax) return constOf(false, 'bool', a!.shape);
      return undefined;
    case 'CMPNE':
      if (a!.vmax < b!.vmin || a!.vmin > b!.vmax) return constOf(true, 'bool', a!.shape);
      return undefined;
    case 'AND':
      if (dtype !== 'bool') return undefined;
      if (isC(a!, 1)) return b;
      if (isC(b!, 1)) return a;
      if (isC(a!, 0) || isC(b!, 0)) return constOf(false, 'bool', a!.shape);
      return a === b ? a : undefined;
    case 'OR':
      if (dtype !== 'bool') return undefined;
      if (isC(a!, 0)) return b;
      if (isC(b!, 0)) return a;
      return undefined;
    default:
      return undefined;
  }
}

// ---- linear forms: sum of coeff*term + constant, over i32 scalar index math ----
type Linear = { terms: Map<UOp, number>; k: number };

function linear(u: UOp): Linear {
  if (u.isConst) return { terms: new Map(), k: Number(u.constValue) };
  if (u.op === 'ADD') {
    const l = linear(u.src[0]!),
      r = linear(u.src[1]!);
    for (const [t, c] of r.terms) l.terms.set(t, (l.terms.get(t) ?? 0) + c);
    return { terms: l.terms, k: l.k + r.k };
  }
  if (u.op === 'MUL' && (u.src[1]!.isConst || u.src[0]!.isConst)) {
    const [x, c] = u.src[1]!.isConst
      ? [u.src[0]!, Number(u.src[1]!.constValue)]
      : [u.src[1]!, Number(u.src[0]!.constValue)];
    const l = linear(x);
    for (const [t, v] of l.terms) l.terms.set(t, v * c);
    return { terms: l.terms, k: l.k * c };
  }
  return { terms: new Map([[u, 1]]), k: 0 };
}

function fromLinear({ terms, k }: Linear): UOp {
  // c*(x//d)*d + c*(x%d) -> c*x: the pair a reshape split followed by a merge leaves behind
  for (const [t, c] of terms) {
    if (t.op !== 'MOD' || !t.src[1]!.isConst) continue;
    const d = Number(t.src[1]!.constValue),
      div = UOp.make('IDIV', 'i32', t.src);
    if (terms.get(div) === c * d) {
      terms.delete(t);
      terms.delete(div);
      terms.set(t.src[0]!, (terms.get(t.src[0]!) ?? 0) + c);
      return fromLinear({ terms, k });
    }
  }
  let out: UOp | undefined;
  for (const [t, c] of [...terms].filter(([, c]) => c !== 0).sort(([x], [y]) => termOrder(x, y))) {
    const term = c === 1 ? t : UOp.make('MUL', 'i32', [t, constOf(c, 'i32')]);
    out = out ? UOp.make('ADD', 'i32', [out, term]) : term;
  }
  if (!out) return constOf(k, 'i32');
  return k === 0 ? out : UOp.make('ADD', 'i32', [out, constOf(k, 'i32')]);
}

/**
 * The order of the terms of a sum: ranges by id, then by structure (never by creation order, so the same index
 * renders the same source whatever was built before).
 */
function termOrder(x: UOp, y: UOp): number {
  const rx = x.op === 'RANGE' ? x.range.id : Infinity,
    ry = y.op === 'RANGE' ? y.range.id : Infinity;
  if (rx !== ry) return rx < ry ? -1 : 1;
  return x.hash - y.hash || x.id - y.id;
}

const gcd = (a: number, b: number): number => (b === 0 ? Math.abs(a) : gcd(b, a % b));

/**
 * Splits big + small where big's coefficients share a factor f of d and 0 <= small < f:
 * then (big + small) // d = (big/f) // (d/f) and (big + small) % d = ((big/f) % (d/f))*f + small.
 */
function splitSmall(terms: Map<UOp, number>, k: number, d: number): { big: UOp; small: UOp; f: number } | undefined {
  const sorted = [...terms].sort(([, a], [, b]) => Math.abs(b) - Math.abs(a));
  for (let n = 1; n < sorted.length; n++) {
    const big = sorted.slice(0, n),
      small = sorted.slice(n);
    const f = big.reduce((g, [, c]) => gcd(g, c), d);
    if (f <= 1 || f === d) continue;
    const s = fromLinear({ terms: new Map(small), k });
    if (s.vmin < 0 || s.vmax >= f) continue;
    return { big: fromLinear({ terms: new Map(big.map(([t, c]) => [t, c / f] as [UOp, number])), k: 0 }), small: s, f };
  }
  return undefined;
}

/** x // d for x >= 0, d > 0: pull out multiples of d, drop a remainder that stays in [0, d). */
function foldDiv(x: UOp, d: number): UOp | undefined {
  if (d === 1) return x;
  if (x.vmax < d) return constOf(0, 'i32');
  if (x.op === 'IDIV' && x.src[1]!.isConst)
    return alu('IDIV', [x.src[0]!, constOf(Number(x.src[1]!.constValue) * d, 'i32')]);
  const { terms, k } = linear(x);
  let g = gcd(d, k);
  for (const c of terms.values()) g = gcd(g, c);
  if (g > 1) {
    const t = new Map([...terms].map(([u, c]) => [u, c / g] as [UOp, number]));
    return alu('IDIV', [fromLinear({ terms: t, k: k / g }), constOf(d / g, 'i32')]);
  }
  const split = splitSmall(terms, k, d);
  if (split) return alu('IDIV', [split.big, constOf(d / split.f, 'i32')]);
  const q = new Map<UOp, number>(),
    rest = new Map<UOp, number>();
  for (const [t, c] of terms) (c % d === 0 ? q : rest).set(t, c % d === 0 ? c / d : c);
  const kq = Math.floor(k / d),
    kr = k - kq * d;
  const r = fromLinear({ terms: rest, k: kr });
  if (r.vmin >= 0 && r.vmax < d) return fromLinear({ terms: q, k: kq });
  if (q.size === 0 && kq === 0) return undefined;
  if (r.vmin < 0) return undefined;
  return alu('ADD', [fromLinear({ terms: q, k: kq }), alu('IDIV', [r, constOf(d, 'i32')])]);
}

/** x % d for x >= 0, d > 0: drop multiples of d; a remainder already in [0, d) is the answer. */
function foldMod(x: UOp, d: number): UOp | undefined {
  if (d === 1) return constOf(0, 'i32');
  if (x.vmax < d) return x;
  if (x.op === 'MOD' && x.src[1]!.isConst && Number(x.src[1]!.constValue) % d === 0)
    return alu('MOD', [x.src[0]!, constOf(d, 'i32')]);
  const { terms, k } = linear(x);
  const split = splitSmall(terms, k, d);
  if (split)
    return alu('ADD', [
      alu('MUL', [alu('MOD', [split.big, constOf(d / split.f, 'i32')]), constOf(split.f, 'i32')]),
      split.small,
    ]);
  const rest = new Map([...terms].filter(([, c]) => c % d !== 0));
  if (rest.size === terms.size && k >= 0 && k < d) return undefined;
  const r = fromLinear({ terms: rest, k: ((k % d) + d) % d });
  if (r.vmin < 0) return undefined;
  return r.vmax < d ? r : UOp.make('MOD', 'i32', [r, constOf(d, 'i32')]);
}

/** How rewrite() changes a graph: `pre` replaces a node outright (its sources unvisited), `post` a rebuilt one. */
export interface Rewrite {
  readonly pre?: (u: UOp) => UOp | undefined;
  readonly post?: (u: UOp) => UOp;
}

/**
 * The one memoized graph rewrite: u rebuilt bottom-up over its rewritten sources (ALU nodes re-simplify), each node
 * once per memo, so a DAG stays a DAG. Pass one memo to rewrites that share nodes.
 */
export function rewrite(u: UOp, rules: Rewrite, memo = new Map<UOp, UOp>()): UOp {
  const replaced = rules.pre?.(u);
  if (replaced) return replaced;
  let out = memo.get(u);
  if (out) return out;
  const src = u.src.map((s) => rewrite(s, rules, memo));
  out = src.every((s, i) => s === u.src[i])
    ? u
    : isAlu(u.op)
      ? alu(u.op as AluOp, src, u.dtype)
      : UOp.make(u.op, u.dtype, src, u.arg, u.shape);
  if (rules.post) out = rules.post(out);
  memo.set(u, out);
  return out;
}

/** u with the nodes in `map` replaced. */
export const substitute = (u: UOp, map: ReadonlyMap<UOp, UOp>, memo = new Map<UOp, UOp>()): UOp =>
  rewrite(u, { pre: (x) => map.get(x) }, memo);

// ---- the IR read like the math: one builder (alu) under short names ----
export const int = (v: number): UOp => constOf(v, 'i32');
export const add = (a: UOp, b: UOp): UOp => alu('ADD', [a, b]);
export const mul = (a: UOp, b: UOp): UOp => alu('MUL', [a, b]);
export const div = (a: UOp, b: UOp): UOp => alu('FDIV', [a, b]);
export const max = (a: UOp, b: UOp): UOp => alu('MAX', [a, b]);
/** Integer division and modulo by a constant (index math). */
export const idiv = (a: UOp, d: number): UOp => alu('IDIV', [a, int(d)]);
export const mod = (a: UOp, d: number): UOp => alu('MOD', [a, int(d)]);
export const lt = (a: UOp, b: UOp): UOp => alu('CMPLT', [a, b]);
export const ne = (a: UOp, b: UOp): UOp => alu('CMPNE', [a, b]);
export const and = (a: UOp, b: UOp): UOp => alu('AND', [a, b]);
export const or = (a: UOp, b: UOp): UOp => alu('OR', [a, b]);
export const xor = (a: UOp, b: UOp): UOp => alu('XOR', [a, b]);
export const where = (cond: UOp, t: UOp, f: UOp): UOp => alu('WHERE', [cond, t, f]);
export const neg = (x: UOp): UOp => alu('NEG', [x]);
export const recip = (x: UOp): UOp => alu('RECIP', [x]);
/** x as dtype d (x itself when it already is). */
export const cast = (x: UOp, d: DType): UOp => (x.dtype === d ? x : alu('CAST', [x], d));
export const bitcast = (x: UOp, d: DType): UOp => alu('BITCAST', [x], d);
export const unary = (op: UnaryOp, x: UOp): UOp => alu(op, [x]);
export const binary = (op: BinaryOp, a: UOp, b: UOp): UOp => alu(op, [a, b]);
