// The op suite as data: seeded inputs, the polygrad expression, and an independent float64 reference.
// Every backend runs every case, on contiguous inputs and on permuted, sliced and flipped views.
import { type Tensor, cat, stack, tensor, where } from '../../index.js';
import { type Nd, at, build, erf, erfc, map, reduce, zip } from './nd.js';
import * as R from './ref.js';

export interface Spec {
  readonly shape: number[];
  readonly lo?: number;
  readonly hi?: number;
  readonly int?: boolean;
  readonly bool?: boolean;
  readonly values?: number[];
}
export interface OpCase {
  readonly name: string;
  readonly inputs: readonly Spec[];
  readonly run: (...t: Tensor[]) => Tensor;
  readonly ref: (...x: Nd[]) => Nd;
  readonly rtol?: number;
  readonly atol?: number;
  /** Bit-exact float32 results: the sign of zero and NaN count (IEEE edge cases). */
  readonly exact?: boolean;
  /**
   * Needs IEEE-754 arithmetic on special values (NaN in comparisons, exact fused residuals), which WGSL leaves
   * to the implementation (Mesa folds `x == NaN` to true and splits fma): runs where the target promises it.
   */
  readonly ieee?: boolean;
}

const s = (shape: number[], lo = -2, hi = 2): Spec => ({ shape, lo, hi });
const pos = (shape: number[], lo = 0.1, hi = 4): Spec => ({ shape, lo, hi });
const ints = (shape: number[], lo: number, hi: number): Spec => ({ shape, lo, hi, int: true });
const sumAll = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

const unary = (
  name: string,
  run: (t: Tensor) => Tensor,
  f: (x: number) => number,
  spec: Spec = s([3, 4]),
  tol: { rtol?: number; atol?: number } = {},
): OpCase[] =>
  [spec, { ...spec, shape: [1, 5, 1] }, { ...spec, shape: [] }].map((sp, i) => ({
    name: `${name} ${JSON.stringify(sp.shape)}${i ? '' : ''}`,
    inputs: [sp],
    run,
    ref: (x) => map(x, f),
    ...tol,
  }));

const binary = (
  name: string,
  run: (a: Tensor, b: Tensor) => Tensor,
  f: (x: number, y: number) => number,
  a: Spec = s([3, 1, 4]),
  b: Spec = s([2, 4]),
): OpCase => ({
  name: `${name} ${JSON.stringify(a.shape)} ${JSON.stringify(b.shape)}`,
  inputs: [a, b],
  run,
  ref: (x, y) => zip(x, y, f),
});

/** floorDiv and remainder of f32 values a by b, exactly as the float64 reference on the same f32 values. */
const floorDivRemainder = (name: string, a: number[], b: number[], more: Partial<OpCase> = {}): OpCase => ({
  name,
  exact: true,
  inputs: [
    { shape: [a.length], values: a },
    { shape: [b.length], values: b },
  ],
  run: (x, y) => stack([x.floorDiv(y), x.remainder(y)]),
  ref: (x, y) =>
    build([2, a.length], ([k, i]) =>
      [R.floorDiv, R.remainder][k!]!(Math.fround(x.data[i!]!), Math.fround(y.data[i!]!)),
    ),
  ...more,
});

export const cases: OpCase[] = [
  // ---- elementwise ----
  ...unary('exp', (t) => t.exp(), Math.exp, s([3, 4], -5, 5)),
  { name: 'exp extreme', inputs: [s([64], -100, 100)], run: (t) => t.exp(), ref: (x) => map(x, Math.exp) },
  ...unary('log', (t) => t.log(), Math.log, pos([3, 4])),
  ...unary(
    'exp2 log2',
    (t) => t.exp2().add(t.log2()),
    (x) => 2 ** x + Math.log2(x),
    pos([3, 4]),
  ),
  ...unary(
    'sqrt rsqrt',
    (t) => t.sqrt().mul(t.rsqrt().add(1)),
    (x) => Math.sqrt(x) * (1 / Math.sqrt(x) + 1),
    pos([3, 4]),
  ),
  ...unary(
    'sin cos',
    (t) => t.sin().add(t.cos().mul(2)),
    (x) => Math.sin(x) + 2 * Math.cos(x),
    s([3, 4], -6, 6),
    { atol: 2e-6 },
  ),
  ...unary('tanh', (t) => t.tanh(), Math.tanh),
  {
    name: 'tanh reaches ±1 past its clamp (as f32 tanh does)',
    inputs: [{ shape: [6], values: [9, -9, 20, -20, 1e30, -1e30] }],
    exact: true,
    run: (t) => t.tanh(),
    ref: (x) => map(x, Math.sign),
  },
  {
    name: 'tanh extreme and tiny',
    inputs: [{ shape: [6], values: [-1000, -20, -1e-5, 3e-6, 20, 1000] }],
    run: (t) => t.tanh(),
    ref: (x) => map(x, Math.tanh),
  },
  ...unary('sigmoid', (t) => t.sigmoid(), R.sigmoid),
  { name: 'sigmoid extreme', inputs: [s([64], -200, 200)], run: (t) => t.sigmoid(), ref: (x) => map(x, R.sigmoid) },
  ...unary(
    'relu leakyRelu',
    (t) => t.relu().add(t.leakyRelu(0.1)),
    (x) => Math.max(x, 0) + (x > 0 ? x : 0.1 * x),
  ),
  ...unary('gelu', (t) => t.gelu(), R.gelu, s([3, 4], -6, 6), { atol: 2e-6 }),
  {
    name: 'gelu and erf: relative accuracy in the tails',
    inputs: [{ shape: [8], values: [-5, -4, -3.5, -8, 1e-3, -0.3, 3, 6] }],
    atol: 0,
    run: (t) => stack([t.gelu(), t.erf()]),
    ref: (x) =>
      build([2, 8], ([k, i]) => {
        const v = x.data[i!]!;
        return k ? erf(v) : v < -4 ? 0.5 * v * erfc(-v / Math.SQRT2) : R.gelu(v);
      }),
  },
  ...unary('gelu tanh', (t) => t.gelu({ approximate: 'tanh' }), R.geluTanh, s([3, 4], -6, 6)),
  ...unary(
    'silu',
    (t) => t.silu(),
    (x) => x * R.sigmoid(x),
  ),
  ...unary(
    'abs neg square reciprocal',
    (t) => t.abs().add(t.neg()).add(t.square()).add(t.reciprocal()),
    (x) => Math.abs(x) - x + x * x + 1 / x,
  ),
  {
    name: 'floor ceil trunc round sign',
    inputs: [{ shape: [10], values: [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 3.999, -0.2] }],
    run: (t) => stack([t.floor(), t.ceil(), t.trunc(), t.round(), t.sign()]),
    ref: (x) =>
      build([5, 10], ([k, i]) => [Math.floor, Math.ceil, Math.trunc, R.roundEven, Math.sign][k!]!(x.data[i!]!)),
  },
  {
    name: 'clamp',
    inputs: [s([3, 4])],
    run: (t) => t.clamp(-0.5, 0.7),
    ref: (x) => map(x, (v) => Math.min(Math.max(v, -0.5), 0.7)),
  },
  binary(
    'add',
    (a, b) => a.add(b),
    (x, y) => x + y,
  ),
  binary(
    'sub',
    (a, b) => a.sub(b),
    (x, y) => x - y,
  ),
  binary(
    'mul',
    (a, b) => a.mul(b),
    (x, y) => x * y,
  ),
  binary(
    'div',
    (a, b) => a.div(b),
    (x, y) => x / y,
  ),
  binary('pow', (a, b) => a.pow(b), R.powT, s([3, 1, 4], 0.1, 3), s([2, 4], -2, 2)),
  {
    name: 'pow negative base, integer exponents',
    inputs: [s([5], -3, -0.5), { shape: [5], values: [2, 3, -1, 0, 0.5] }],
    run: (a, b) => a.pow(b),
    ref: (x, y) => zip(x, y, R.powT),
  },
  binary(
    'maximum minimum',
    (a, b) => a.maximum(b).add(a.minimum(b).mul(3)),
    (x, y) => Math.max(x, y) + 3 * Math.min(x, y),
  ),
  binary(
    'scalar ops',
    (a) => a.mul(2).sub(1).div(4).add(0.5),
    (x) => (x * 2 - 1) / 4 + 0.5,
    s([2, 3]),
    s([1]),
  ),
  {
    name: 'comparisons',
    inputs: [ints([4, 5], -2, 2), ints([5], -2, 2)],
    run: (a, b) => stack([a.lt(b), a.le(b), a.gt(b), a.ge(b), a.eq(b), a.ne(b)]).cast('f32'),
    ref: (a, b) =>
      build([6, 4, 5], ([k, i, j]) => {
        const x = at(a, [i!, j!]),
          y = at(b, [j!]);
        return +[x < y, x <= y, x > y, x >= y, x === y, x !== y][k!]!;
      }),
  },
  binary(
    'floorDiv remainder (int)',
    (a, b) => a.floorDiv(b).mul(100).add(a.remainder(b)),
    (x, y) => R.floorDiv(x, y) * 100 + R.remainder(x, y),
    ints([4, 6], -9, 9),
    { ...ints([6], 1, 4), values: [3, -3, 2, -2, 5, -7] },
  ),
  binary(
    'floorDiv remainder (float)',
    (a, b) => a.floorDiv(b).add(a.remainder(b)),
    (x, y) => R.floorDiv(x, y) + R.remainder(x, y),
    s([3, 4], -5, 5),
    s([4], 0.5, 2),
  ),
  {
    name: 'where',
    inputs: [s([3, 4]), s([4]), s([3, 1])],
    run: (c, a, b) => where(c.gt(0), a, b),
    ref: (c, a, b) => build([3, 4], (i) => (at(c, i) > 0 ? at(a, i) : at(b, i))),
  },
  {
    name: 'where with scalars',
    inputs: [s([3, 4])],
    run: (c) => c.gt(0).where(1.5, c),
    ref: (c) => map(c, (v) => (v > 0 ? 1.5 : v)),
  },
  {
    name: 'logical and bitwise',
    inputs: [ints([3, 4], -8, 8), ints([4], -8, 8)],
    run: (af, bf) => {
      const [a, b] = [af.cast('i32'), bf.cast('i32')];
      return stack([a.gt(0).logicalAnd(b.gt(0)), a.gt(0).logicalOr(b.lt(0)), a.gt(0).logicalNot()])
        .cast('i32')
        .add(a.bitwiseAnd(b).add(a.bitwiseOr(b)).add(a.bitwiseXor(b)));
    },
    ref: (a, b) =>
      build([3, 3, 4], ([k, i, j]) => {
        const x = at(a, [i!, j!]),
          y = at(b, [j!]);
        return [+(x > 0 && y > 0), +(x > 0 || y < 0), +!(x > 0)][k!]! + (x & y) + (x | y) + (x ^ y);
      }),
  },
  {
    name: 'casts',
    inputs: [s([8], -5, 5)],
    run: (t) =>
      stack([t.cast('i32').cast('f32'), t.gt(0).cast('f32'), t.cast('f16').cast('f32'), t.cast('bool').cast('f32')]),
    ref: (x) =>
      build([4, 8], ([k, i]) => {
        const v = x.data[i!]!;
        return [Math.trunc(v), +(v > 0), v, +(v !== 0)][k!]!;
      }),
    rtol: 1e-3,
  },

  // ---- IEEE edge values: PyTorch's results, sign of zero and NaN included ----
  {
    name: 'floor ceil trunc round sign abs on edge values',
    inputs: [
      {
        shape: [12],
        values: [-0, 0, NaN, Infinity, -Infinity, -2.5, 2.5, 0.49999997, -0.49999997, -0.3, 1e9 + 1, -1.7],
      },
    ],
    run: (t) => stack([t.floor(), t.ceil(), t.trunc(), t.round(), t.sign(), t.abs()]),
    exact: true,
    ref: (x) =>
      build([6, 12], ([k, i]) =>
        [Math.floor, Math.ceil, Math.trunc, R.roundEven, R.signT, Math.abs][k!]!(Math.fround(x.data[i!]!)),
      ),
  },
  {
    name: 'compares and floor see f32 results (0.1 + 0.2 == 0.3 in f32)',
    inputs: [
      { shape: [3], values: [0.1, 16777215, 0.7] },
      { shape: [3], values: [0.2, 0.5, 0.1] },
    ],
    exact: true,
    run: (a, b) => stack([a.add(b).eq(a.add(b).mul(1)), a.add(b).eq(0.3).cast('f32'), a.add(b).floor()]).cast('f32'),
    ref: (a, b) =>
      build([3, 3], ([k, i]) => {
        const s = Math.fround(Math.fround(a.data[i!]!) + Math.fround(b.data[i!]!));
        return [1, +(s === Math.fround(0.3)), Math.floor(s)][k!]!;
      }),
  },
  {
    name: 'isnan isinf isfinite',
    inputs: [{ shape: [6], values: [NaN, Infinity, -Infinity, 0, -3.5, 3e38] }],
    run: (t) => stack([t.isnan(), t.isinf(), t.isfinite()]).cast('f32'),
    ref: (x) =>
      build([3, 6], ([k, i]) => {
        const v = x.data[i!]!;
        return +[Number.isNaN(v), Math.abs(v) === Infinity, Number.isFinite(v)][k!]!;
      }),
  },
  floorDivRemainder(
    'floorDiv remainder on exact multiples',
    [41, 82, -82, 7.5, 6, -6, 0.75, 1e7],
    [41, 41, 41, -2.5, 3, 3, 0.25, 10],
  ),
  floorDivRemainder(
    'floorDiv remainder on edge values (float)',
    [41, 82, -82, 1, -1, 7.5, -0, 5, Infinity, 3, -3, 0.3],
    [41, 41, 41, 0.1, 0.1, -2.5, 3, 0, 2, Infinity, Infinity, -0.1],
    { ieee: true },
  ),
  // quotients just off a whole number: a remainder that is not exactly a - b·q comes out 0 or a divisor too big
  floorDivRemainder(
    'floorDiv remainder where the quotient is not whole (float)',
    [5.5, -2.9, 6.6, 1, 1000.3, -1000.3, 3e7, 7e-3, 1e-30, 123456.7],
    [0.1, 0.1, 0.1, 0.1, 0.7, 0.7, 0.3, 3e-3, 3e-31, -0.01],
  ),
  {
    // the remainder alone of huge quotients (the long division's longest runs) and of subnormal values
    name: 'remainder of huge quotients and subnormals (float)',
    exact: true,
    inputs: [
      { shape: [6], values: [3e38, -3e38, 1e30, 7e-39, 1e-44, 5] },
      { shape: [6], values: [1e-38, 0.7, -3e-39, 3e-39, 3e-45, 1e-40] },
    ],
    run: (a, b) => a.remainder(b),
    ref: (a, b) => zip(a, b, (x, y) => R.remainder(Math.fround(x), Math.fround(y))),
  },
  {
    name: 'pow on edge values',
    inputs: [
      { shape: [11], values: [-0, -1, -8, 1, 2, -2, NaN, 0, -Infinity, 4, -1] },
      { shape: [11], values: [-1, Infinity, 1 / 3, NaN, 10, 3, 0, -2, 3, 0.5, -Infinity] },
    ],
    run: (a, b) => a.pow(b),
    ref: (a, b) => zip(a, b, (x, y) => R.powT(Math.fround(x), Math.fround(y))),
  },
  {
    name: 'pow with scalar exponents',
    inputs: [s([2, 5], -3, 3)],
    run: (t) =>
      stack([
        t.pow(2),
        t.pow(3),
        t.abs().pow(0.5),
        t.pow(-1),
        t.abs().pow(-0.5),
        t.pow(-2),
        t.pow(0),
        t.abs().pow(1.7),
      ]),
    ref: (x) =>
      build([8, 2, 5], ([k, i, j]) => {
        const v = at(x, [i!, j!]);
        return R.powT(k === 2 || k === 4 || k === 7 ? Math.abs(v) : v, [2, 3, 0.5, -1, -0.5, -2, 0, 1.7][k!]!);
      }),
    rtol: 3e-6,
  },
  {
    name: 'integer pow (exact, negative exponents as C)',
    inputs: [
      { shape: [9], values: [2, 3, -1, 1, 0, 7, -2, 5, -1] },
      { shape: [9], values: [-1, 2, -3, -5, 0, 11, 5, 13, 4] },
    ],
    run: (a, b) => stack([a.cast('i32').pow(b.cast('i32')), a.cast('i32').pow(3)]).cast('f32'),
    exact: true,
    ref: (a, b) => build([2, 9], ([k, i]) => R.intPow(a.data[i!]!, k ? 3 : b.data[i!]!)),
  },
  {
    name: 'maximum minimum relu max propagate NaN',
    inputs: [
      { shape: [5], values: [NaN, 1, -2, NaN, 7] },
      { shape: [5], values: [0, NaN, 3, NaN, -1] },
    ],
    run: (a, b) =>
      stack([
        a.maximum(b),
        a.minimum(b),
        a.relu(),
        a.clamp(0, 5),
        stack([a, b]).max(0),
        a.maximum(5).gt(3).cast('f32'),
      ]),
    ref: (a, b) =>
      build([6, 5], ([k, i]) => {
        const x = a.data[i!]!,
          y = b.data[i!]!;
        return [
          Math.max(x, y),
          Math.min(x, y),
          Math.max(x, 0),
          Math.min(Math.max(x, 0), 5),
          Math.max(x, y),
          +(Math.max(x, 5) > 3),
        ][k!]!;
      }),
  },
  {
    name: 'argmax argmin count NaN as the largest',
    inputs: [{ shape: [2, 5], values: [1, NaN, 3, NaN, -5, 4, 2, 9, 0, 1] }],
    run: (t) => stack([t.argmax(1), t.argmin(1)]).cast('f32'),
    ref: (x) =>
      build([2, 2], ([k, i]) => {
        const row = [...x.data.slice(5 * i!, 5 * i! + 5)];
        const n = row.findIndex(Number.isNaN);
        return n >= 0 ? n : row.indexOf(k ? Math.min(...row) : Math.max(...row));
      }),
  },
  {
    name: 'reductions and softmax of a 0-d tensor over dim 0',
    inputs: [{ shape: [], values: [-2.5] }],
    run: (t) =>
      stack([
        t.sum(0),
        t.mean(-1),
        t.max(0),
        t.min(0, true),
        t.prod(0),
        t.softmax(0),
        t.logSoftmax(-1),
        t.argmax(0).cast('f32'),
      ]),
    ref: (x) => build([8], ([k]) => [x.data[0]!, x.data[0]!, x.data[0]!, x.data[0]!, x.data[0]!, 1, 0, 0][k!]!),
  },
  {
    name: 'cat keeps -0',
    inputs: [
      { shape: [2], values: [-0, 1] },
      { shape: [2], values: [-0, -3] },
    ],
    run: (a, b) => cat([a, b]),
    exact: true,
    ref: (a, b) => ({ shape: [4], data: Float64Array.from([...a.data, ...b.data]) }),
  },
  {
    name: 'maxPool2d on integers pads with the smallest integer',
    inputs: [{ ...ints([1, 1, 3, 3], -9, -1), values: [-5, -6, -7, -8, -9, -4, -3, -2, -1] }],
    run: (t) => t.cast('i32').maxPool2d(2, { padding: 1 }).cast('f32'),
    ref: (x) => R.pool(x, 2, 2, 1, 'max'),
  },

  // ---- reductions ----
  {
    name: 'sum all / axis / axes keepdim',
    inputs: [s([3, 4, 5])],
    run: (t) =>
      t
        .sum()
        .add(t.sum(1).sum(1).sum())
        .add(t.sum([0, 2], true).sum()),
    ref: (x) => ({ shape: [], data: Float64Array.of(3 * sumAll([...x.data])) }),
  },
  { name: 'sum axis 1', inputs: [s([3, 4, 5])], run: (t) => t.sum(1), ref: (x) => reduce(x, [1], sumAll) },
  {
    name: 'max min',
    inputs: [s([3, 4, 5])],
    run: (t) => t.max(2).add(t.min(0, true).sum(2)),
    ref: (x) =>
      zip(
        reduce(x, [2], (v) => Math.max(...v)),
        reduce(
          reduce(x, [0], (v) => Math.min(...v), true),
          [2],
          sumAll,
        ),
        (a, b) => a + b,
      ),
  },
  {
    name: 'mean',
    inputs: [s([4, 6])],
    run: (t) => t.mean(-1, true),
    ref: (x) => reduce(x, [1], (v) => sumAll(v) / v.length, true),
  },
  {
    name: 'var std',
    inputs: [s([4, 6])],
    run: (t) => t.var(1).add(t.std(0, { correction: 0 }).sum()),
    ref: (x) =>
      zip(R.varRef(x, [1], 1), reduce(map(R.varRef(x, [0], 0), Math.sqrt), undefined, sumAll), (a, b) => a + b),
  },
  {
    name: 'prod',
    inputs: [s([3, 4], 0.5, 1.5)],
    run: (t) => t.prod(1),
    ref: (x) => reduce(x, [1], (v) => v.reduce((a, b) => a * b, 1)),
  },
  {
    name: 'argmax argmin with ties',
    inputs: [ints([4, 6], 0, 3)],
    run: (t) => t.argmax(1).mul(10).add(t.argmin(0).sum()),
    ref: (x) => {
      const a = R.argBest(x, 1, (p, q) => p > q),
        m = R.argBest(x, 0, (p, q) => p < q);
      const sm = sumAll([...m.data]);
      return map(a, (v) => v * 10 + sm);
    },
  },
  {
    name: 'argmax flat',
    inputs: [s([3, 5])],
    run: (t) => t.argmax(),
    ref: (x) => ({ shape: [], data: Float64Array.of(x.data.indexOf(Math.max(...x.data))) }),
  },
  {
    name: 'sum of bool',
    inputs: [s([5, 7])],
    run: (t) => t.gt(0).sum(1),
    ref: (x) => reduce(x, [1], (v) => v.filter((y) => y > 0).length),
  },

  {
    name: 'any all',
    inputs: [ints([3, 4], -1, 1)],
    run: (t) => stack([t.any(1), t.all(1), t.gt(-2).all(1), t.gt(5).any(1)]).cast('f32'),
    ref: (x) =>
      build([4, 3], ([k, i]) => {
        const row = [...x.data.slice(4 * i!, 4 * i! + 4)];
        return +[row.some((v) => v !== 0), row.every((v) => v !== 0), true, false][k!]!;
      }),
  },
  {
    name: 'logsumexp',
    inputs: [s([3, 5], -30, 30)],
    run: (t) => t.logsumexp(1).add(t.logsumexp([0, 1], true).sum()),
    ref: (x) => {
      const lse = (v: number[]) => {
        const m = Math.max(...v);
        return m + Math.log(v.reduce((a, b) => a + Math.exp(b - m), 0));
      };
      const all = lse([...x.data]);
      return map(reduce(x, [1], lse), (v) => v + all);
    },
    rtol: 2e-6,
  },
  {
    name: 'cumsum',
    inputs: [s([3, 7])],
    run: (t) => t.cumsum(1).add(t.cumsum(0).mul(10)),
    ref: (x) =>
      build([3, 7], ([i, j]) => {
        let r = 0,
          c = 0;
        for (let k = 0; k <= j!; k++) r += at(x, [i!, k]);
        for (let k = 0; k <= i!; k++) c += at(x, [k, j!]);
        return r + 10 * c;
      }),
  },
  {
    name: 'tril triu maskedFill',
    inputs: [s([2, 3, 4])],
    run: (t) =>
      t
        .tril()
        .add(t.triu(1).mul(10))
        .add(t.tril(-1).mul(100))
        .add(t.maskedFill(t.gt(1), -7)),
    ref: (x) =>
      build([2, 3, 4], ([b, i, j]) => {
        const v = at(x, [b!, i!, j!]);
        return (j! <= i! ? v : 0) + (j! >= i! + 1 ? 10 * v : 0) + (j! <= i! - 1 ? 100 * v : 0) + (v > 1 ? -7 : v);
      }),
  },
  {
    name: 'log1p expm1 softplus: relative accuracy near 0 and in the tails',
    atol: 0,
    inputs: [
      { shape: [9], values: [1e-8, -1e-7, 1e-3, -0.05, 0.09, 0.5, 10, -0.9, 3] },
      { shape: [6], values: [-30, -20, -17, -3, 0.5, 30] },
    ],
    run: (a, b) =>
      cat([a.log1p(), a.expm1(), b.softplus(), b.softplus({ beta: 2 }), b.softplus({ beta: 0.5, threshold: 1 })]),
    ref: (a, b) => ({
      shape: [9 + 9 + 18],
      data: Float64Array.from([
        ...[...a.data].map(Math.log1p),
        ...[...a.data].map(Math.expm1),
        ...[1, 2, 0.5].flatMap((beta) =>
          [...b.data].map((x) => (beta * x > (beta === 0.5 ? 1 : 20) ? x : Math.log1p(Math.exp(beta * x)) / beta)),
        ),
      ]),
    }),
  },
  {
    name: 'cumsum past an infinity, tril/triu/maskedFill keep the dtype',
    inputs: [
      { shape: [4], values: [1, 2, Infinity, 3] },
      { shape: [2, 2], values: [1, 0, 1, 1] },
    ],
    run: (a, m) =>
      cat([
        a.cumsum(0),
        m.gt(0).tril().cast('f32').flatten(),
        m.cast('i32').maskedFill(m.gt(0), 1.5).cast('f32').flatten(),
      ]),
    ref: () => ({ shape: [12], data: Float64Array.from([1, 3, Infinity, Infinity, 1, 0, 1, 1, 1, 0, 1, 1]) }),
  },
  {
    name: 'lerp: exact at both ends, scalar and tensor weights',
    inputs: [
      { shape: [3], values: [1e8, 3, -7] },
      { shape: [3], values: [1e-8, -2, 0.125] },
      { shape: [3], values: [1, 0, 0.75] },
    ],
    run: (a, b, w) => cat([a.lerp(b, 1), a.lerp(b, 0), a.lerp(b, w), a.lerp(b, 0.25)]),
    exact: true,
    ref: (a, b, w) => {
      const f = Math.fround,
        l = (x: number, y: number, t: number) =>
          t < 0.5 ? f(f(x) + f(t * f(f(y) - f(x)))) : f(f(y) - f(f(f(y) - f(x)) * f(1 - t)));
      return {
        shape: [12],
        data: Float64Array.from(
          [0, 1, 2]
            .flatMap((k) => [0, 1, 2].map((i) => l(a.data[i]!, b.data[i]!, [1, 0, w.data[i]!][k]!)))
            .concat([0, 1, 2].map((i) => l(a.data[i]!, b.data[i]!, 0.25))),
        ),
      };
    },
  },
  ...unary(
    'softplus elu',
    (t) =>
      t
        .softplus()
        .add(t.elu(0.5))
        .add(t.softplus({ beta: 2, threshold: 3 })),
    (x) =>
      Math.log1p(Math.exp(x)) + (x > 0 ? x : 0.5 * Math.expm1(x)) + (2 * x > 3 ? x : Math.log1p(Math.exp(2 * x)) / 2),
    s([3, 4], -5, 5),
  ),
  ...unary(
    'hardswish hardsigmoid mish',
    (t) => t.hardswish().add(t.hardsigmoid()).add(t.mish()),
    (x) => {
      const hs = Math.min(Math.max(x + 3, 0), 6) / 6;
      return x * hs + hs + x * Math.tanh(Math.log1p(Math.exp(x)));
    },
    s([3, 4], -5, 5),
  ),
  {
    name: 'lerp outer norm',
    inputs: [s([4]), s([4]), s([3])],
    run: (a, b, c) =>
      stack([a.lerp(b, 0.25), a.lerp(b, c.sum().sigmoid().expand([4]))])
        .sum(0)
        .add(a.outer(c).sum(1))
        .add(a.norm())
        .add(b.norm(1))
        .add(c.norm(Infinity)),
    ref: (a, b, c) => {
      const w = 1 / (1 + Math.exp(-[...c.data].reduce((p, q) => p + q, 0)));
      const n2 = Math.hypot(...a.data),
        n1 = [...b.data].reduce((p, q) => p + Math.abs(q), 0),
        ni = Math.max(...[...c.data].map(Math.abs));
      const cs = [...c.data].reduce((p, q) => p + q, 0);
      return build([4], ([i]) => {
        const v = a.data[i!]!;
        return v + 0.25 * (b.data[i!]! - v) + (v + w * (b.data[i!]! - v)) + v * cs + n2 + n1 + ni;
      });
    },
  },
  {
    name: 'unbind indexSelect bmm',
    inputs: [s([2, 3, 4]), s([2, 4, 2])],
    run: (a, b) =>
      a.bmm(b).add(
        stack(a.unbind(1), 1)
          .indexSelect(2, tensor([3, 0], { dtype: 'i32', device: a.device }))
          .sum(2, true),
      ),
    ref: (a, b) => {
      const m = R.matmul(a, b);
      return build([2, 3, 2], ([n, i, j]) => at(m, [n!, i!, j!]) + at(a, [n!, i!, 3]) + at(a, [n!, i!, 0]));
    },
  },

  {
    name: 'conv1d stride 2 pad 1 groups 2 + bias',
    inputs: [s([2, 4, 9]), s([6, 2, 3]), s([6])],
    run: (x, w, b) => x.conv1d(w, b, { stride: 2, padding: 1, groups: 2 }),
    ref: (x, w, b) =>
      build([2, 6, 5], ([n, o, l]) => {
        let acc = b.data[o!]!;
        const g = Math.floor(o! / 3);
        for (let c = 0; c < 2; c++)
          for (let k = 0; k < 3; k++) {
            const p = l! * 2 + k - 1;
            if (p >= 0 && p < 9) acc += at(x, [n!, g * 2 + c, p]) * at(w, [o!, c, k]);
          }
        return acc;
      }),
  },
  {
    name: 'batchNorm (running statistics)',
    inputs: [s([2, 3, 4]), s([3]), pos([3]), s([3]), s([3])],
    run: (x, m, v, w, b) => x.batchNorm(m, v, w, b),
    ref: (x, m, v, w, b) =>
      build(
        [2, 3, 4],
        ([n, c, i]) =>
          ((at(x, [n!, c!, i!]) - m.data[c!]!) / Math.sqrt(v.data[c!]! + 1e-5)) * w.data[c!]! + b.data[c!]!,
      ),
    atol: 1e-5,
  },
  {
    name: 'logsumexp of an all -inf row, any/all of an empty row',
    inputs: [{ shape: [2, 2], values: [-Infinity, -Infinity, 1, 2] }],
    run: (t) => cat([t.logsumexp(1), t.slice(1, 0, 0).any(1).cast('f32'), t.slice(1, 0, 0).all(1).cast('f32')]),
    ref: () => ({ shape: [6], data: Float64Array.from([-Infinity, 2 + Math.log1p(Math.exp(-1)), 0, 0, 1, 1]) }),
  },

  {
    name: 'strided, padded views where some outputs reduce only over padding, then an add',
    inputs: [s([2, 10, 5]), s([2, 1, 1])],
    run: (x, w) => x.slice(1, 1, 10, 2).pad([1, 1, 0, 0]).slice(2, 0, 7, 2).mul(w).sum(0).add(1),
    ref: (x, w) =>
      build([5, 4], ([i, j]) => {
        const col = 2 * j! - 1;
        let acc = 0;
        for (let b = 0; b < 2; b++) acc += col >= 0 && col < 5 ? at(x, [b, 1 + 2 * i!, col]) * w.data[b]! : 0;
        return acc + 1;
      }),
  },

  // ---- movement ----
  {
    name: 'reshape permute transpose',
    inputs: [s([2, 3, 4])],
    run: (t) => t.reshape([6, 4]).transpose(0, 1).reshape([2, 2, 6]).permute(2, 0, 1).add(1),
    ref: (x) => map(R.permute(R.reshape(R.permute(R.reshape(x, [6, 4]), [1, 0]), [2, 2, 6]), [2, 0, 1]), (v) => v + 1),
  },
  {
    name: 'expand',
    inputs: [s([3, 1])],
    run: (t) => t.expand([2, 3, 4]).mul(1),
    ref: (x) => build([2, 3, 4], ([, i]) => x.data[i!]!),
  },
  {
    name: 'pad (negative crops) with value',
    inputs: [s([3, 4])],
    run: (t) => t.pad([1, -1, 2, 0], 0.5),
    ref: (x) =>
      build([5, 4], ([i, j]) => {
        const r = i! - 2,
          c = j! - 1;
        return r >= 0 && r < 3 && c >= 0 && c < 3 ? at(x, [r, c]) : 0.5;
      }),
  },
  {
    name: 'slice with step and negatives',
    inputs: [s([5, 9])],
    run: (t) => t.slice(1, -8, undefined, 3).slice(0, 1, -1),
    ref: (x) => build([3, 3], ([i, j]) => at(x, [i! + 1, 1 + 3 * j!])),
  },
  {
    name: 'flip',
    inputs: [s([3, 4])],
    run: (t) => t.flip(0, 1).sub(t.flip(1)),
    ref: (x) => build([3, 4], ([i, j]) => at(x, [2 - i!, 3 - j!]) - at(x, [i!, 3 - j!])),
  },
  {
    name: 'cat stack',
    inputs: [s([2, 3]), s([2, 1])],
    run: (a, b) => cat([a, b, a], 1).add(stack([a, a], 2).sum(2).sum(1, true)),
    ref: (a, b) =>
      build(
        [2, 7],
        ([i, j]) =>
          (j! < 3 ? at(a, [i!, j!]) : j === 3 ? at(b, [i!, 0]) : at(a, [i!, j! - 4])) +
          2 * (at(a, [i!, 0]) + at(a, [i!, 1]) + at(a, [i!, 2])),
      ),
  },
  {
    name: 'squeeze unsqueeze flatten',
    inputs: [s([2, 1, 3])],
    run: (t) => t.squeeze(1).unsqueeze(0).flatten(),
    ref: (x) => ({ shape: [6], data: x.data }),
  },
  {
    name: 'repeat',
    inputs: [s([2, 3])],
    run: (t) => t.repeat(2, 1, 2),
    ref: (x) => build([2, 2, 6], ([, i, j]) => at(x, [i!, j! % 3])),
  },
  {
    name: 'chunk split select narrow',
    inputs: [s([4, 6])],
    run: (t) => t.chunk(3, 1)[1]!.add(t.split([1, 3], 0)[1]!.narrow(0, 1, 1).select(0, 0).slice(0, 0, 2)),
    ref: (x) => build([4, 2], ([i, j]) => at(x, [i!, 2 + j!]) + at(x, [2, j!])),
  },

  // ---- nn ----
  { name: 'matmul 2d', inputs: [s([5, 7]), s([7, 3])], run: (a, b) => a.matmul(b), ref: R.matmul },
  {
    name: 'matmul batched broadcast',
    inputs: [s([2, 1, 4, 6]), s([3, 6, 5])],
    run: (a, b) => a.matmul(b),
    ref: R.matmul,
  },
  {
    name: 'matmul 1d cases',
    inputs: [s([6]), s([6, 4]), s([4])],
    run: (v, m, w) => v.matmul(m).matmul(w).add(m.matmul(w).sum()),
    ref: (v, m, w) => {
      const a = R.matmul(R.matmul(v, m), w);
      const b = reduce(R.matmul(m, w), undefined, sumAll);
      return zip(a, b, (p, q) => p + q);
    },
  },
  {
    name: 'linear + bias + relu',
    inputs: [s([4, 8]), s([16, 8]), s([16])],
    run: (x, w, b) => x.linear(w, b).relu(),
    ref: (x, w, b) =>
      map(
        zip(R.matmul(x, R.permute(w, [1, 0])), b, (p, q) => p + q),
        (v) => Math.max(v, 0),
      ),
  },
  {
    name: 'conv2d pad 1 + bias',
    inputs: [s([2, 3, 6, 5]), s([4, 3, 3, 3]), s([4])],
    run: (x, w, b) => x.conv2d(w, b, { padding: 1 }),
    ref: (x, w, b) => R.conv2d(x, w, b, 1, 1),
  },
  {
    name: 'conv2d stride 2 dilation 2',
    inputs: [s([1, 2, 9, 8]), s([3, 2, 3, 3])],
    run: (x, w) => x.conv2d(w, undefined, { stride: 2, padding: 2, dilation: 2 }),
    ref: (x, w) => R.conv2d(x, w, undefined, 2, 2, 2),
  },
  {
    name: 'conv2d groups 2',
    inputs: [s([1, 4, 5, 5]), s([6, 2, 3, 3]), s([6])],
    run: (x, w, b) => x.conv2d(w, b, { padding: 1, groups: 2 }).silu(),
    ref: (x, w, b) => map(R.conv2d(x, w, b, 1, 1, 1, 2), (v) => v * R.sigmoid(v)),
  },
  {
    name: 'avgPool2d',
    inputs: [s([1, 2, 6, 6])],
    run: (x) => x.avgPool2d(2).add(x.avgPool2d(3, { stride: 2, padding: 1 }).sum()),
    ref: (x) => {
      const a = R.pool(x, 2, 2, 0, 'avg'),
        b = R.pool(x, 3, 2, 1, 'avg');
      const t = sumAll([...b.data]);
      return map(a, (v) => v + t);
    },
  },
  {
    name: 'avgPool2d countIncludePad false',
    inputs: [s([1, 2, 5, 5])],
    run: (x) => x.avgPool2d(3, { stride: 2, padding: 1, countIncludePad: false }),
    ref: (x) => R.pool(x, 3, 2, 1, 'avg', false),
  },
  {
    name: 'maxPool2d ceilMode: a last window past the input',
    inputs: [s([1, 2, 5, 5])],
    run: (x) => x.maxPool2d(2, { ceilMode: true }),
    ref: (x) => R.pool(x, 2, 2, 0, 'max', true, 1, true),
  },
  {
    name: 'maxPool2d ceilMode: no window starts past the input and its padding',
    inputs: [s([1, 2, 5, 5])],
    run: (x) => x.maxPool2d(2, { stride: 3, padding: 1, ceilMode: true }),
    ref: (x) => R.pool(x, 2, 3, 1, 'max', true, 1, true),
  },
  {
    name: 'avgPool2d ceilMode: the divisor leaves out the overhang, with and without the padding',
    inputs: [s([1, 2, 6, 7])],
    run: (x) =>
      stack([
        x.avgPool2d(3, { stride: 2, padding: 1, ceilMode: true }),
        x.avgPool2d(3, { stride: 2, padding: 1, ceilMode: true, countIncludePad: false }),
      ]),
    ref: (x) => {
      const [a, b] = [R.pool(x, 3, 2, 1, 'avg', true, 1, true), R.pool(x, 3, 2, 1, 'avg', false, 1, true)];
      return { shape: [2, ...a.shape], data: Float64Array.from([...a.data, ...b.data]) };
    },
  },
  {
    name: 'maxPool2d pad stride dilation',
    inputs: [s([1, 2, 7, 7])],
    run: (x) =>
      x
        .maxPool2d(3, { stride: 2, padding: 1 })
        .sum()
        .add(x.maxPool2d(2, { dilation: 2, stride: 1 }).sum()),
    ref: (x) => ({
      shape: [],
      data: Float64Array.of(
        sumAll([...R.pool(x, 3, 2, 1, 'max').data]) + sumAll([...R.pool(x, 2, 1, 0, 'max', true, 2).data]),
      ),
    }),
  },
  {
    name: 'interpolate nearest x2',
    inputs: [s([1, 2, 3, 4])],
    run: (x) => x.interpolate({ scaleFactor: 2 }),
    ref: (x) => R.interpolateNearest(x, 6, 8, [2, 2]),
  },
  {
    name: 'interpolate nearest by 1.25 and 2.3 (unchanged and doubled sizes follow PyTorch)',
    inputs: [s([1, 1, 5, 3]), s([1, 1, 2, 2])],
    run: (x, y) =>
      cat([x.interpolate({ scaleFactor: 1.25 }).flatten(), y.interpolate({ scaleFactor: [2.3, 1.5] }).flatten()]),
    ref: (x, y) => ({
      shape: [18 + 12],
      data: Float64Array.from([
        ...R.interpolateNearest(x, 6, 3, [1.25, 1.25]).data,
        ...R.interpolateNearest(y, 4, 3, [2.3, 1.5]).data,
      ]),
    }),
  },
  {
    name: 'interpolate bilinear: x2, to a size with aligned corners, by 0.5',
    inputs: [s([1, 2, 3, 4]), s([1, 1, 6, 5])],
    run: (x, y) =>
      cat([
        x.interpolate({ scaleFactor: 2, mode: 'bilinear' }).flatten(),
        x.interpolate({ size: [7, 5], mode: 'bilinear', alignCorners: true }).flatten(),
        y.interpolate({ scaleFactor: 0.5, mode: 'bilinear' }).flatten(),
      ]),
    ref: (x, y) => {
      const parts = [
        R.interpolateBilinear(x, 6, 8, false, [2, 2]),
        R.interpolateBilinear(x, 7, 5, true),
        R.interpolateBilinear(y, 3, 2, false, [0.5, 0.5]),
      ];
      return {
        shape: [parts.reduce((a, p) => a + p.data.length, 0)],
        data: Float64Array.from(parts.flatMap((p) => [...p.data])),
      };
    },
  },
  {
    name: 'interpolate nearest to size',
    inputs: [s([1, 1, 5, 3])],
    run: (x) => x.interpolate({ size: [7, 4] }),
    ref: (x) => R.interpolateNearest(x, 7, 4),
  },
  {
    name: 'softmax logSoftmax',
    inputs: [s([3, 5], -8, 8)],
    run: (x) => x.softmax(-1).add(x.logSoftmax(0)),
    ref: (x) => zip(R.softmax(x, 1), R.softmax(x, 0, true), (a, b) => a + b),
  },
  {
    name: 'layerNorm',
    inputs: [s([3, 4, 6]), s([6]), s([6])],
    run: (x, w, b) => x.layerNorm(6, w, b),
    ref: (x, w, b) => R.layerNorm(x, 1, w, b),
    atol: 1e-5,
  },
  {
    name: 'groupNorm + silu',
    inputs: [s([2, 6, 3, 3]), s([6]), s([6])],
    run: (x, w, b) => x.groupNorm(3, w, b).silu(),
    ref: (x, w, b) => map(R.groupNorm(x, 3, w, b), (v) => v * R.sigmoid(v)),
    atol: 1e-5,
  },
  // ---- long reduces over few outputs: GPUs split them across a workgroup (GROUP), also for sizes that are not a
  // multiple of it ----
  ...[1, 63, 65, 4097].map(
    (n): OpCase => ({
      name: `sum and max of rows of ${n}`,
      inputs: [s([2, n])],
      run: (t) => t.sum(1).add(t.max(1)),
      ref: (x) =>
        zip(
          reduce(x, [1], sumAll),
          reduce(x, [1], (v) => Math.max(...v)),
          (a, b) => a + b,
        ),
      rtol: 1e-4,
      atol: 1e-4,
    }),
  ),
  {
    name: 'gemv 1x4097 @ 4097x6',
    inputs: [s([1, 4097]), s([4097, 6])],
    run: (a, b) => a.matmul(b),
    ref: R.matmul,
    rtol: 1e-4,
    atol: 1e-4,
  },
  {
    name: 'gemv rows against [K, N] and [N, K] weights, a partial last workgroup',
    inputs: [s([3, 300]), s([300, 42]), s([42, 300])],
    run: (x, a, b) => x.matmul(a).add(x.linear(b)),
    ref: (x, a, b) => zip(R.matmul(x, a), R.matmul(x, R.permute(b, [1, 0])), (p, q) => p + q),
    rtol: 1e-4,
    atol: 1e-4,
  },
  {
    name: 'softmax of long rows',
    inputs: [s([2, 1000], -8, 8)],
    run: (x) => x.softmax(-1),
    ref: (x) => R.softmax(x, 1),
  },
  {
    name: 'groupNorm of a long group',
    inputs: [s([1, 4, 30, 30]), s([4]), s([4])],
    run: (x, w, b) => x.groupNorm(2, w, b),
    ref: (x, w, b) => R.groupNorm(x, 2, w, b),
    atol: 1e-5,
  },
  {
    name: 'embedding',
    inputs: [{ shape: [2, 3], values: [3, 0, 1, 1, 4, 2], int: true }, s([5, 4])],
    run: (i, w) => i.cast('i32').embedding(w),
    ref: (i, w) => build([2, 3, 4], ([a, b, d]) => at(w, [at(i, [a!, b!]), d!])),
  },
  {
    name: 'gather',
    inputs: [s([3, 4]), { shape: [2, 4], values: [2, 0, 1, 1, 0, 2, 2, 0], int: true }],
    run: (x, i) => x.gather(0, i.cast('i32')),
    ref: (x, i) => build([2, 4], ([a, b]) => at(x, [at(i, [a!, b!]), b!])),
  },
  {
    name: 'attention',
    inputs: [s([2, 3, 4]), s([2, 5, 4]), s([2, 5, 3])],
    run: (q, k, v) => q.scaledDotProductAttention(k, v),
    ref: (q, k, v) => R.sdpa(q, k, v),
  },
  {
    name: 'attention causal, scale',
    inputs: [s([2, 4, 4]), s([2, 4, 4]), s([2, 4, 2])],
    run: (q, k, v) => q.scaledDotProductAttention(k, v, { isCausal: true, scale: 0.3 }),
    ref: (q, k, v) => R.sdpa(q, k, v, { causal: true, scale: 0.3 }),
  },
  {
    name: 'attention float and bool masks',
    inputs: [s([1, 3, 4]), s([1, 5, 4]), s([1, 5, 2]), s([3, 5])],
    run: (q, k, v, m) =>
      q.scaledDotProductAttention(k, v, { attnMask: m }).add(q.scaledDotProductAttention(k, v, { attnMask: m.gt(-1) })),
    ref: (q, k, v, m) =>
      zip(
        R.sdpa(q, k, v, { mask: m }),
        R.sdpa(q, k, v, { mask: map(m, (x) => +(x > -1)), boolMask: true }),
        (a, b) => a + b,
      ),
  },
  {
    name: 'attention: a row the mask leaves empty gives zeros (safe softmax)',
    inputs: [
      s([1, 3, 4]),
      s([1, 5, 4]),
      s([1, 5, 2]),
      {
        shape: [3, 5],
        values: [...Array(5).fill(-Infinity), 0.3, -1.2, 0.8, -0.1, 1.5, -0.7, 0.2, -Infinity, 1.1, -0.4],
      },
    ],
    run: (q, k, v, m) =>
      q.scaledDotProductAttention(k, v, { attnMask: m }).add(q.scaledDotProductAttention(k, v, { attnMask: m.gt(-1) })),
    ref: (q, k, v, m) =>
      zip(
        R.sdpa(q, k, v, { mask: m }),
        R.sdpa(q, k, v, { mask: map(m, (x) => +(x > -1)), boolMask: true }),
        (a, b) => a + b,
      ),
  },
  {
    name: 'lstm cell',
    inputs: [s([2, 5]), s([2, 3]), s([2, 3]), s([12, 5]), s([12, 3]), s([12])],
    run: (x, h, c, wih, whh, b) => {
      const [i, f, g, o] = x.linear(wih).add(h.linear(whh)).add(b).chunk(4, 1) as Tensor[];
      const c2 = f!.sigmoid().mul(c).add(i!.sigmoid().mul(g!.tanh()));
      return stack([o!.sigmoid().mul(c2.tanh()), c2]);
    },
    ref: (x, h, c, wih, whh, b) => {
      const [h2, c2] = R.lstmCell(x, h, c, wih, whh, b);
      return build([2, 2, 3], ([k, n, j]) => at(k ? c2 : h2, [n!, j!]));
    },
  },
];
