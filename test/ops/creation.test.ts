// Creation ops and the seeded RNG: exact values, statistics, and one stream on every backend.
import { describe, expect, test } from 'vitest';
import { arange, eye, full, linspace, manualSeed, ones, rand, randint, randn, tensor, zeros } from '../../index.js';
import { backends } from '../backends.js';

describe.each(backends)('creation on %s', (device) => {
  test('arange, linspace, eye, zeros, ones, full', async () => {
    expect(await arange(5, undefined, 1, { device }).tolist()).toEqual([0, 1, 2, 3, 4]);
    expect(await arange(2, 11, 3, { device }).tolist()).toEqual([2, 5, 8]);
    expect(await arange(1, 0, -0.25, { device }).tolist()).toEqual([1, 0.75, 0.5, 0.25]);
    expect(Array.from(await linspace(-1, 1, 5, { device }).data())).toEqual([-1, -0.5, 0, 0.5, 1]);
    expect(await eye(2, 3, { device }).tolist()).toEqual([
      [1, 0, 0],
      [0, 1, 0],
    ]);
    expect(
      await zeros([2], { device })
        .add(ones([2], { device }))
        .mul(full([2], 3, { device }))
        .tolist(),
    ).toEqual([3, 3]);
    expect(await full([2], true, { device }).tolist()).toEqual([true, true]);
  });

  test('linspace counts from both ends (exact endpoints, symmetric steps); an integer linspace truncates', async () => {
    const [a, b, n] = [3, 0.3, 11],
      step = (b - a) / (n - 1);
    const got = await linspace(a, b, n, { device }).data();
    expect(got[0]).toBe(Math.fround(a));
    expect(got[n - 1]).toBe(Math.fround(b));
    got.forEach((v, i) => expect(Math.abs(v - (a + i * step))).toBeLessThan(1e-6));
    expect(await linspace(0, 10, 4, { device, dtype: 'i32' }).tolist()).toEqual([0, 3, 6, 10]);
    // ends truncated first
    expect(await linspace(3, 0.3, 11, { device, dtype: 'i32' }).tolist()).toEqual([3, 2, 2, 2, 1, 1, 1, 0, 0, 0, 0]);
  });

  test(
    'empty tensors: no kernel runs for an empty output; reductions over an empty dim give their ' + 'identity',
    async () => {
      expect(await zeros([2, 0, 3], { device }).add(1).data()).toHaveLength(0);
      expect((await eye(0, 0, { device }).data()).length).toBe(0);
      expect(await ones([3, 0], { device }).sum(1).tolist()).toEqual([0, 0, 0]);
      expect(await ones([3, 0], { device }).prod(1).tolist()).toEqual([1, 1, 1]);
      expect(
        await ones([2, 0], { device })
          .matmul(ones([0, 3], { device }))
          .tolist(),
      ).toEqual([
        [0, 0, 0],
        [0, 0, 0],
      ]);
      expect(((await ones([3, 0], { device }).mean(1).tolist()) as number[]).every(Number.isNaN)).toBe(true);
      expect(() => ones([3, 0], { device }).max(1)).toThrow(
        'max: cannot reduce over dim 1 of [3, 0]: it is empty and max has no identity',
      );
      // strided empty view: index math % 0
      expect(await tensor([1, 2], { device }).slice(0, 0, 0, 2).sum().item()).toBe(0);
      expect(
        await ones([2, 3, 0], { device })
          .matmul(ones([0, 2], { device }))
          .sum()
          .item(),
      ).toBe(0);
      expect(zeros([2, 0], { device }).softmax(1).shape).toEqual([2, 0]);
      expect(
        zeros([0, 3], { device })
          .chunk(3)
          .map((t) => t.shape),
      ).toEqual([
        [0, 3],
        [0, 3],
        [0, 3],
      ]);
    },
  );

  test('narrow from a negative start, split of an empty dim, pad with -0 (PyTorch)', async () => {
    expect(await tensor([1, 2, 3], { device }).narrow(0, -2, 1).tolist()).toEqual([2]);
    const parts = zeros([0, 3], { device }).split(4);
    expect(parts.map((p) => p.shape)).toEqual([[0, 3]]);
    const padded = await tensor([1], { device }).pad([1, 0], -0).data();
    if (device !== 'webgpu') expect(Object.is(padded[0], -0)).toBe(true); // WGSL may drop the sign of zero
  });

  test('rand is uniform on [0, 1) and reproducible', async () => {
    manualSeed(7);
    const a = Array.from(await rand([20000], { device }).data());
    manualSeed(7);
    const b = Array.from(await rand([20000], { device }).data());
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length,
      min = Math.min(...a),
      max = Math.max(...a);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01); // sd of the mean is 0.002
    const buckets = new Array(10).fill(0);
    for (const v of a) buckets[Math.floor(v * 10)]++;
    for (const n of buckets) expect(Math.abs(n - 2000)).toBeLessThan(200);
    const c = await rand([20000], { device }).data(); // the stream moves on
    expect(Array.from(c)).not.toEqual(a);
  });

  test('randn has mean 0 and variance 1; randint covers [low, high)', async () => {
    const z = Array.from(await randn([20000], { seed: 3, device }).data());
    const mean = z.reduce((s, v) => s + v, 0) / z.length;
    const v = z.reduce((s, x) => s + (x - mean) ** 2, 0) / z.length;
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    const r = Array.from(await randint(-3, 4, [5000], { seed: 4, device }).data());
    expect(new Set(r)).toEqual(new Set([-3, -2, -1, 0, 1, 2, 3]));
  });

  test('the same seed gives the same stream as on the CPU', async () => {
    const here = await rand([257], { seed: 11, device }).data(),
      cpu = await rand([257], { seed: 11 }).data();
    expect(Array.from(here)).toEqual(Array.from(cpu));
    const zh = await randn([64], { seed: 12, device }).data(),
      zc = await randn([64], { seed: 12 }).data();
    zh.forEach((x, i) => expect(x).toBeCloseTo(zc[i]!, 5));
  });
});

test('dtype promotion: a 0-d tensor beside a dimensioned one counts like a scalar (PyTorch)', async () => {
  const f16 = tensor([1, 2], { dtype: 'f16' }),
    i32 = tensor([1, 2], { dtype: 'i32' });
  const f32Scalar = tensor([1.5]).reshape([]),
    i32Scalar = tensor([3], { dtype: 'i32' }).reshape([]);
  expect(f16.add(f32Scalar).dtype).toBe('f16'); // same category: the dimensioned dtype wins
  expect(i32.add(f32Scalar).dtype).toBe('f32'); // a higher category lifts to the scalar's dtype
  expect(i32.add(tensor([1.5], { dtype: 'f16' }).reshape([])).dtype).toBe('f16');
  expect(f16.mul(i32Scalar).dtype).toBe('f16');
  expect(f32Scalar.add(i32Scalar).dtype).toBe('f32'); // both 0-d: ordinary promotion
  expect(f16.add(tensor([1.5])).dtype).toBe('f32'); // both dimensioned: ordinary promotion
  expect(await f16.add(f32Scalar).tolist()).toEqual([2.5, 3.5]);
  expect(
    tensor([
      [true, false],
      [true, true],
    ]).tril().dtype,
  ).toBe('bool'); // fills keep the dtype
  expect(i32.maskedFill(tensor([false, true]), 1.5).dtype).toBe('i32');
  expect(i32.isnan().dtype).toBe('bool');
  expect(await zeros([0, 3]).logsumexp(0).tolist()).toEqual([-Infinity, -Infinity, -Infinity]);
});

describe.each(backends)('to() from %s', (device) => {
  test('copies values and dtype to every other backend', async () => {
    const { tensor } = await import('../../index.js');
    for (const target of backends) {
      const t = tensor(
        [
          [1.5, -2],
          [3, 4],
        ],
        { device },
      );
      const c = await t.mul(2).to(target);
      expect(c.device).toBe(target);
      expect(await c.tolist()).toEqual([
        [3, -4],
        [6, 8],
      ]);
      expect(await (await tensor([true, false], { device }).to(target)).tolist()).toEqual([true, false]);
    }
  });
});
