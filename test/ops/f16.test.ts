// f16 tensors: the op suite's elementwise, reduction and nn cases with f16 inputs, on every backend
// whose device has f16. Tolerance is f16's: rtol 5e-3, atol 5e-3: inputs are rounded to f16 and, as in PyTorch, every
// op result is rounded to f16 again.
import { describe, expect, test } from 'vitest';
import { getDevice, tensor, zeros } from '../../index.js';
import { backends } from '../backends.js';
import { cases } from './cases.js';
import { rng, uniform } from './nd.js';
import { f16Round } from '../fuzz/program.js';
import { f16round } from '../../codegen/dtype.js';

const f16Cases = new RegExp(
  '^(exp \\[3|tanh \\[3|sigmoid \\[3|silu \\[3|add|mul|div|max min|mean|softmax|matmul 2d|conv2d pad|groupNorm|' +
    'layerNorm|attention \\(|lstm)',
);
const picked = cases.filter((c) => f16Cases.test(c.name) && !c.inputs.some((s) => s.values || s.int));

describe.each(backends.filter((b) => getDevice(b).caps.dtypes.has('f16')))('f16 on %s', (device) => {
  test.each(picked.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const xs = c.inputs.map((s, i) => {
      const u = uniform(s.shape, 1000 * i + c.name.length, s.lo ?? -2, s.hi ?? 2);
      return { shape: u.shape, data: u.data.map(f16round) };
    });
    const out = c.run(...xs.map((x) => tensor(Float32Array.from(x.data), { shape: x.shape, device, dtype: 'f16' })));
    expect(out.dtype).toBe('f16');
    const got = await out.data(),
      want = c.ref(...xs);
    want.data.forEach((w, i) =>
      expect(Math.abs(got[i]! - w), `${c.name} [${i}] got ${got[i]} want ${w}`).toBeLessThanOrEqual(
        5e-3 + 5e-3 * Math.abs(w),
      ),
    );
  });
  test('f16 pools, norms and softmax run in f32: sums and variances beyond 65504 do not overflow', async () => {
    const h = (v: number[], shape: number[]) => tensor(Float32Array.from(v), { shape, device, dtype: 'f16' });
    expect(await h([60000, 60000, 60000, 60000], [1, 1, 2, 2]).avgPool2d(2).tolist()).toEqual([[[[60000]]]]);
    const ln = await h([300, -300, 300, -300], [1, 4]).layerNorm([4]).data();
    const gn = await h([300, -300, 300, -300], [1, 4, 1]).groupNorm(1).data();
    for (const got of [ln, gn]) Array.from(got).forEach((v, i) => expect(v).toBeCloseTo(i % 2 ? -1 : 1, 2));
    const sm = await zeros([70000], { device, dtype: 'f16' }).softmax(0).data();
    expect(Math.abs(sm[123]! - 1 / 70000)).toBeLessThan(1e-6);
  });
  test('mean and var of a long f16 row: the sum (2.5e7) would overflow f16, so statistics run in f32', async () => {
    const x = uniform([100000], 7, 200, 300).data.map(f16round);
    const t = tensor(Float32Array.from(x), { device, dtype: 'f16' });
    const mean = x.reduce((a, b) => a + b, 0) / x.length,
      v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
    const [m, s] = [await t.mean().data(), await t.var().data()];
    expect(t.mean().dtype).toBe('f16');
    expect(Math.abs(m[0]! - mean)).toBeLessThanOrEqual(5e-3 * mean);
    expect(Math.abs(s[0]! - v)).toBeLessThanOrEqual(5e-3 * v);
  });
});

describe.each(backends.filter((b) => getDevice(b).caps.dtypes.has('f16')))('f32 → f16 casts on %s', (device) => {
  test('a cast to f16 and back inside one kernel rounds: nearest even, subnormals, overflow', async () => {
    const r = rng(5),
      special = [
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        2 ** -25,
        3 * 2 ** -25,
        2 ** -14 - 2 ** -26,
        65504,
        65519,
        65520,
        1e6,
        -0,
        -1e-9,
        Infinity,
        -Infinity,
      ];
    const random = Array.from({ length: 4000 }, () => (r() < 0.5 ? -1 : 1) * 2 ** (-27 + 45 * r()));
    const x = Float32Array.from([...special, ...random]);
    const got = await tensor(x, { device }).mul(1).cast('f16').cast('f32').data();
    const bad = Array.from(x).flatMap((v, i) =>
      Object.is(got[i], f16Round(v)) ? [] : [`${v} -> ${got[i]} (want ${f16Round(v)})`],
    );
    expect(bad.slice(0, 5)).toEqual([]);
    expect(Number.isNaN((await tensor([NaN], { device }).mul(1).cast('f16').cast('f32').data())[0])).toBe(true);
  });
});
