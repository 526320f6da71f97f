// Running one op-suite case on a device against its float64 reference, on contiguous inputs or on permuted, sliced
// and flipped views of the same values (ops.test.ts; actions.test.ts runs it under random optimizer actions).
import { expect } from 'vitest';
import { type Tensor, tensor } from '../../index.js';
import type { OpCase, Spec } from './cases.js';
import { type Nd, build, numel, uniform } from './nd.js';

export type Layout = 'contiguous' | 'permuted' | 'sliced' | 'flipped';
export const layouts: Layout[] = ['contiguous', 'permuted', 'sliced', 'flipped'];

function values(spec: Spec, seed: number): Nd {
  if (spec.values) return { shape: spec.shape, data: Float64Array.from(spec.values) };
  const u = uniform(spec.shape, seed, spec.lo ?? -2, spec.hi ?? 2);
  return spec.int ? { shape: u.shape, data: u.data.map(Math.round) } : u;
}

/** A tensor holding x whose memory layout is not the logical one. */
function place(x: Nd, device: string, layout: Layout): Tensor {
  const f32 = (a: Nd) => tensor(Float32Array.from(a.data), { shape: a.shape, device });
  const n = x.shape.length;
  if (layout === 'contiguous' || n === 0) return f32(x);
  const idx = (i: number[]) => i.reduce((o, v, j) => o * x.shape[j]! + v, 0);
  if (layout === 'permuted') {
    const order = x.shape.map((_, i) => n - 1 - i);
    return f32(
      build(
        order.map((o) => x.shape[o]!),
        (i) => x.data[idx(order.map((_, j) => i[order.indexOf(j)]!))]!,
      ),
    ).permute(order);
  }
  if (layout === 'flipped')
    return f32(build(x.shape, (i) => x.data[idx(i.map((v, j) => x.shape[j]! - 1 - v))]!)).flip(
      x.shape.map((_, i) => i),
    );
  const big = build(
    x.shape.map((d) => d + 2),
    (i) => (i.every((v, j) => v >= 1 && v <= x.shape[j]!) ? x.data[idx(i.map((v) => v - 1))]! : 777),
  );
  return f32(big).shrink(x.shape.map((d) => [1, d + 1] as [number, number]));
}

export async function check(c: OpCase, device: string, layout: Layout): Promise<void> {
  const xs = c.inputs.map((s, i) => values(s, 1000 * i + c.name.length));
  const out = c.run(...xs.map((x) => place(x, device, layout)));
  const want = c.ref(...xs);
  expect(out.shape, `${c.name}: shape`).toEqual(want.shape);
  const got = await out.data();
  expect(got.length).toBe(numel(want.shape));
  const rtol = c.rtol ?? 1e-5,
    atol = c.atol ?? 1e-6;
  const signedZeros = !device.startsWith('webgpu'); // WGSL lets implementations ignore the sign of zero
  const bad: string[] = [];
  want.data.forEach((w0, i) => {
    const w = Math.fround(w0),
      g = got[i]!;
    const ok = c.exact
      ? Object.is(g, w) || (Number.isNaN(g) && Number.isNaN(w)) || (!signedZeros && g === 0 && w === 0)
      : Number.isNaN(w)
        ? Number.isNaN(g)
        : !Number.isFinite(w)
          ? g === w
          : Math.abs(g - w) <= atol + rtol * Math.abs(w);
    if (!ok && bad.length < 5)
      bad.push(`[${i}] got ${Object.is(g, -0) ? '-0' : g}, want ${Object.is(w0, -0) ? '-0' : w0}`);
  });
  expect(bad, `${c.name} on ${device} (${layout})`).toEqual([]);
}
