// A tiny float64 n-d array for the references: row-major data, built from an index function.
export interface Nd {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
export const strides = (s: readonly number[]): number[] => s.map((_, i) => numel(s.slice(i + 1)));

/** An array of `shape` with element idx = f(idx). */
export function build(shape: readonly number[], f: (idx: number[]) => number): Nd {
  const n = numel(shape),
    data = new Float64Array(n),
    st = strides(shape);
  for (let i = 0; i < n; i++) data[i] = f(shape.map((d, j) => Math.floor(i / st[j]!) % d));
  return { shape: [...shape], data };
}
export function at(a: Nd, idx: readonly number[]): number {
  const st = strides(a.shape);
  let o = 0;
  // broadcasting: leading dims missing, size-1 dims read index 0
  const off = idx.length - a.shape.length;
  a.shape.forEach((d, j) => {
    o += (d === 1 ? 0 : idx[j + off]!) * st[j]!;
  });
  return a.data[o]!;
}
export function broadcast(...shapes: (readonly number[])[]): number[] {
  const n = Math.max(...shapes.map((s) => s.length));
  return Array.from({ length: n }, (_, i) => Math.max(...shapes.map((s) => s[s.length - n + i] ?? 1)));
}
export const map = (a: Nd, f: (x: number) => number): Nd => ({ shape: a.shape, data: a.data.map(f) });
export const zip = (a: Nd, b: Nd, f: (x: number, y: number) => number): Nd =>
  build(broadcast(a.shape, b.shape), (i) => f(at(a, i), at(b, i)));

/** Reduce over axes (all when undefined) with keepdim. */
export function reduce(a: Nd, axes: number[] | undefined, f: (xs: number[]) => number, keepdim = false): Nd {
  const ax = (axes ?? a.shape.map((_, i) => i)).map((x) => (x < 0 ? x + a.shape.length : x));
  const kept = a.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const out = build(kept, (idx) => {
    const xs: number[] = [];
    const sub = build(
      ax.map((i) => a.shape[i]!),
      (r) => {
        const full = [...idx];
        ax.forEach((axis, j) => {
          full[axis] = r[j]!;
        });
        xs.push(at(a, full));
        return 0;
      },
    );
    void sub;
    return f(xs);
  });
  return keepdim ? out : { shape: kept.filter((_, i) => !ax.includes(i)), data: out.data };
}

/** erf to ~1e-13: power series near 0, continued fraction for erfc in the tails. */
export function erf(x: number): number {
  const a = Math.abs(x);
  if (a < 3) {
    let term = a,
      sum = a;
    for (let n = 1; n < 100; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
      if (Math.abs(term) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  return Math.sign(x) * (1 - erfc(a));
}
/** erfc(a) for a >= 3 by its continued fraction (relative accuracy in the tail). */
export function erfc(a: number): number {
  let k = a;
  for (let n = 60; n >= 1; n--) k = a + n / 2 / k;
  return Math.exp(-a * a) / (Math.sqrt(Math.PI) * k);
}

// seeded inputs: mulberry32, never exactly zero
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
export function uniform(shape: readonly number[], seed: number, lo = -2, hi = 2): Nd {
  const r = rng(seed);
  return build(shape, () => {
    const v = lo + (hi - lo) * r();
    return Math.abs(v) < 1e-3 ? 1e-3 + Math.abs(v) : v;
  });
}
