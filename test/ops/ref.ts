// Naive float64 references for the composite ops, written from PyTorch's definitions (no polygrad code).
import { type Nd, at, build, erf, numel, reduce, strides } from './nd.js';

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
export const geluTanh = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
export const roundEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};
/** C's pow (PyTorch's): JS ** differs only for 1 ** NaN and (-1) ** ±Infinity. */
export function powT(a: number, b: number): number {
  if (b === 0 || a === 1 || (a === -1 && Math.abs(b) === Infinity)) return 1;
  return a ** b;
}
/** C's integer pow with PyTorch's rule for negative exponents (1, ±1 or 0). */
export function intPow(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 ? -1 : 1) : 0;
  let r = 1;
  for (let i = 0; i < b; i++) r = Math.imul(r, a);
  return r;
}
/** torch.sign: 0 for ±0 and NaN. */
export const signT = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);
/** The remainder with the divisor's sign: a - b * floor(a / b), from the exact C fmod. */
export function remainder(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}
/** floor(a / b) from the exact remainder (so exact multiples stay exact); a zero keeps the sign of a / b. */
export function floorDiv(a: number, b: number): number {
  if (b === 0) return a / b;
  const r = a % b;
  let q = (a - r) / b;
  if (r !== 0 && r < 0 !== b < 0) q -= 1;
  return q === 0 ? (a / b < 0 || Object.is(a / b, -0) ? -0 : 0) : Math.round(q);
}

export const reshape = (a: Nd, shape: number[]): Nd => ({ shape, data: a.data });
export const permute = (a: Nd, order: number[]): Nd =>
  build(
    order.map((o) => a.shape[o]!),
    (i) => {
      const s: number[] = [];
      order.forEach((o, j) => {
        s[o] = i[j]!;
      });
      return at(a, s);
    },
  );

export function matmul(a: Nd, b: Nd): Nd {
  const A = a.shape.length === 1 ? reshape(a, [1, a.shape[0]!]) : a,
    B = b.shape.length === 1 ? reshape(b, [b.shape[0]!, 1]) : b;
  const [n, k] = A.shape.slice(-2) as [number, number],
    m = B.shape[B.shape.length - 1]!;
  const batch = (() => {
    const x = A.shape.slice(0, -2),
      y = B.shape.slice(0, -2),
      l = Math.max(x.length, y.length);
    return Array.from({ length: l }, (_, i) => Math.max(x[x.length - l + i] ?? 1, y[y.length - l + i] ?? 1));
  })();
  const out = build([...batch, n, m], (i) => {
    const bi = i.slice(0, -2),
      r = i[i.length - 2]!,
      c = i[i.length - 1]!;
    let s = 0;
    for (let q = 0; q < k; q++)
      s +=
        at(A, [...bi.slice(bi.length - (A.shape.length - 2)), r, q]) *
        at(B, [...bi.slice(bi.length - (B.shape.length - 2)), q, c]);
    return s;
  });
  let shape = out.shape;
  if (a.shape.length === 1) shape = shape.filter((_, i) => i !== shape.length - 2);
  if (b.shape.length === 1) shape = shape.slice(0, -1);
  return { shape, data: out.data };
}

export function conv2d(x: Nd, w: Nd, b: Nd | undefined, stride = 1, pad = 1, dil = 1, groups = 1): Nd {
  const [N, _C, H, W] = x.shape as number[],
    [Co, Cg, kh, kw] = w.shape as number[];
  const OH = Math.floor((H! + 2 * pad - dil * (kh! - 1) - 1) / stride) + 1,
    OW = Math.floor((W! + 2 * pad - dil * (kw! - 1) - 1) / stride) + 1;
  return build([N!, Co!, OH, OW], ([n, co, oh, ow]) => {
    const g = Math.floor(co! / (Co! / groups));
    let s = b ? b.data[co!]! : 0;
    for (let c = 0; c < Cg!; c++)
      for (let i = 0; i < kh!; i++)
        for (let j = 0; j < kw!; j++) {
          const h = oh! * stride + i * dil - pad,
            v = ow! * stride + j * dil - pad;
          if (h >= 0 && h < H! && v >= 0 && v < W!) s += at(x, [n!, g * Cg! + c, h, v]) * at(w, [co!, c, i, j]);
        }
    return s;
  });
}

export function pool(
  x: Nd,
  k: number,
  stride: number,
  pad: number,
  kind: 'max' | 'avg',
  countIncludePad = true,
  dil = 1,
  ceilMode = false,
): Nd {
  const [N, C, H, W] = x.shape as number[];
  // PyTorch's pooling_output_shape: rounded up in ceil mode, less a last window starting past the left padding
  const size = (L: number): number => {
    const span = L + 2 * pad - dil * (k - 1) - 1;
    let out = (ceilMode ? Math.ceil(span / stride) : Math.floor(span / stride)) + 1;
    if (ceilMode && (out - 1) * stride >= L + pad) out--;
    return out;
  };
  return build([N!, C!, size(H!), size(W!)], ([n, c, oh, ow]) => {
    const vals: number[] = [];
    let inside = 0,
      padded = 0;
    for (let i = 0; i < k; i++)
      for (let j = 0; j < k; j++) {
        const h = oh! * stride + i * dil - pad,
          v = ow! * stride + j * dil - pad;
        const ok = h >= 0 && h < H! && v >= 0 && v < W!;
        if (ok) inside++;
        if (h < H! + pad && v < W! + pad) padded++;
        vals.push(ok ? at(x, [n!, c!, h, v]) : kind === 'max' ? -Infinity : 0);
      }
    return kind === 'max' ? Math.max(...vals) : sum(vals) / (countIncludePad ? padded : inside);
  });
}

export function interpolateNearest(x: Nd, oh: number, ow: number, scale?: [number, number]): Nd {
  const [N, C, H, W] = x.shape as number[];
  const sh = Math.fround(scale ? 1 / scale[0] : H! / oh),
    sw = Math.fround(scale ? 1 / scale[1] : W! / ow);
  // PyTorch's CPU rule: an unchanged size copies, a doubled one takes i >> 1, whatever the scale says
  const src = (i: number, out: number, inp: number, s: number) =>
    out === inp ? i : out === 2 * inp ? i >> 1 : Math.min(Math.floor(Math.fround(i * s)), inp - 1);
  return build([N!, C!, oh, ow], ([n, c, i, j]) => at(x, [n!, c!, src(i!, oh, H!, sh), src(j!, ow, W!, sw)]));
}

/** Bilinear resampling as PyTorch defines it (half-pixel centres clamped at 0, or corners aligned). */
export function interpolateBilinear(
  x: Nd,
  oh: number,
  ow: number,
  alignCorners: boolean,
  scale?: [number, number],
): Nd {
  const [N, C, H, W] = x.shape as number[];
  const taps = (i: number, out: number, inp: number, sf?: number): [number, number, number] => {
    const src = alignCorners
      ? out > 1
        ? ((inp - 1) / (out - 1)) * i
        : 0
      : Math.max((i + 0.5) * (sf ? 1 / sf : inp / out) - 0.5, 0);
    const lo = Math.min(Math.floor(src), inp - 1);
    return [lo, Math.min(lo + 1, inp - 1), src - lo];
  };
  return build([N!, C!, oh, ow], ([n, c, i, j]) => {
    const [h0, h1, lh] = taps(i!, oh, H!, scale?.[0]),
      [w0, w1, lw] = taps(j!, ow, W!, scale?.[1]);
    const v = (h: number, w: number) => at(x, [n!, c!, h, w]);
    return (1 - lh) * ((1 - lw) * v(h0, w0) + lw * v(h0, w1)) + lh * ((1 - lw) * v(h1, w0) + lw * v(h1, w1));
  });
}

export function softmax(x: Nd, dim: number, log = false): Nd {
  const d = dim < 0 ? dim + x.shape.length : dim;
  return build(x.shape, (i) => {
    const row = Array.from({ length: x.shape[d]! }, (_, k) => {
      const j = [...i];
      j[d] = k;
      return at(x, j);
    });
    const m = Math.max(...row),
      z = sum(row.map((v) => Math.exp(v - m)));
    return log ? at(x, i) - m - Math.log(z) : Math.exp(at(x, i) - m) / z;
  });
}

function normalize(
  x: Nd,
  groupOf: (i: number[]) => string,
  eps: number,
  affine: (i: number[], v: number) => number,
): Nd {
  const groups = new Map<string, number[]>();
  build(x.shape, (i) => {
    const g = groupOf(i);
    groups.set(g, [...(groups.get(g) ?? []), at(x, i)]);
    return 0;
  });
  const stats = new Map(
    [...groups].map(([g, v]) => {
      const m = sum(v) / v.length;
      return [g, [m, sum(v.map((y) => (y - m) ** 2)) / v.length]] as const;
    }),
  );
  return build(x.shape, (i) => {
    const [m, v] = stats.get(groupOf(i))!;
    return affine(i, (at(x, i) - m!) / Math.sqrt(v! + eps));
  });
}
export const layerNorm = (x: Nd, nd: number, w?: Nd, b?: Nd, eps = 1e-5): Nd =>
  normalize(
    x,
    (i) => i.slice(0, x.shape.length - nd).join(),
    eps,
    (i, v) => {
      const t = i.slice(x.shape.length - nd);
      return v * (w ? at(w, t) : 1) + (b ? at(b, t) : 0);
    },
  );
export const groupNorm = (x: Nd, G: number, w?: Nd, b?: Nd, eps = 1e-5): Nd =>
  normalize(
    x,
    (i) => `${i[0]},${Math.floor(i[1]! / (x.shape[1]! / G))}`,
    eps,
    (i, v) => v * (w ? w.data[i[1]!]! : 1) + (b ? b.data[i[1]!]! : 0),
  );

export function sdpa(
  q: Nd,
  k: Nd,
  v: Nd,
  opts: { causal?: boolean; mask?: Nd; boolMask?: boolean; scale?: number } = {},
): Nd {
  const E = q.shape[q.shape.length - 1]!,
    L = q.shape[q.shape.length - 2]!,
    S = k.shape[k.shape.length - 2]!;
  const scale = opts.scale ?? 1 / Math.sqrt(E);
  let s = build([...q.shape.slice(0, -1), S], (i) => {
    const b = i.slice(0, -2),
      l = i[i.length - 2]!,
      j = i[i.length - 1]!;
    let d = 0;
    for (let e = 0; e < E; e++) d += at(q, [...b, l, e]) * at(k, [...b, j, e]);
    d *= scale;
    if (opts.causal && j > l) return -Infinity;
    if (opts.mask) {
      const m = at(opts.mask, [l, j]);
      return opts.boolMask ? (m ? d : -Infinity) : d + m;
    }
    return d;
  });
  // PyTorch's safe softmax (2.5 on): a row the mask leaves nothing of gets zeros
  const scores = s,
    empty = (i: number[]): boolean =>
      Array.from({ length: S }, (_, j) => at(scores, [...i.slice(0, -1), j])).every((x) => x === -Infinity);
  s = softmax(s, -1);
  s = build(s.shape, (i) => (empty(i) ? 0 : at(s, i)));
  void L;
  return matmul(s, v);
}

export function lstmCell(x: Nd, h: Nd, c: Nd, wih: Nd, whh: Nd, bias: Nd): [Nd, Nd] {
  const H = h.shape[1]!;
  const gates = build([x.shape[0]!, 4 * H], ([n, g]) => {
    let s = bias.data[g!]!;
    for (let i = 0; i < x.shape[1]!; i++) s += at(x, [n!, i]) * at(wih, [g!, i]);
    for (let i = 0; i < H; i++) s += at(h, [n!, i]) * at(whh, [g!, i]);
    return s;
  });
  const gate = (n: number, k: number, j: number) => at(gates, [n, k * H + j]);
  const c2 = build(
    h.shape,
    ([n, j]) => sigmoid(gate(n!, 1, j!)) * at(c, [n!, j!]) + sigmoid(gate(n!, 0, j!)) * Math.tanh(gate(n!, 2, j!)),
  );
  const h2 = build(h.shape, ([n, j]) => sigmoid(gate(n!, 3, j!)) * Math.tanh(at(c2, [n!, j!])));
  return [h2, c2];
}

export const varRef = (a: Nd, axes: number[] | undefined, correction: number, keepdim = false): Nd =>
  reduce(
    a,
    axes,
    (xs) => {
      const m = sum(xs) / xs.length;
      return sum(xs.map((x) => (x - m) ** 2)) / Math.max(xs.length - correction, 0);
    },
    keepdim,
  );
export const argBest = (a: Nd, axis: number, better: (x: number, y: number) => boolean): Nd =>
  reduce(a, [axis], (xs) => xs.reduce((bi, x, i) => (better(x, xs[bi]!) ? i : bi), 0));
export { numel, strides };
