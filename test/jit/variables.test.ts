// Variables: values that reach kernels as arguments. New values reuse the schedule and the compiled kernels,
// results match a float64 reference rounded as f32 arithmetic rounds, bad values are refused, and the caches
// stay bounded however many distinct graphs a session builds.
import { describe, expect, test } from 'vitest';
import { CpuBackend, type Tensor, randn, registerDevice, stats, tensor, variable, where } from '../../index.js';
import { cacheLimits, cacheSizes } from '../../runtime/realize.js';
import { getDevice } from '../../runtime/device.js';
import { backends } from '../backends.js';

const f = Math.fround;

describe.each(backends)('variables on %s', (device) => {
  test('new values of a variable reuse the schedule and compile nothing', async () => {
    const x = await randn([6, 7], { seed: 1, device }).realize();
    const xs = await x.data();
    for (const [k, [a, b]] of [
      [1.5, -2],
      [0.25, 3],
      [-7, 0.125],
      [1e-3, 10],
    ].entries()) {
      const c0 = stats.compiles,
        h0 = stats.scheduleCacheHits;
      const y = x.mul(variable(a!, { device })).add(variable(b!, { device })).exp();
      const got = await y.data();
      if (k > 0) {
        expect(stats.compiles, 'compiles').toBe(c0);
        expect(stats.scheduleCacheHits, 'schedule cache hits').toBe(h0 + 1);
      }
      xs.forEach((v, i) => {
        const want = Math.exp(f(f(v * f(a!)) + f(b!)));
        expect(Math.abs(got[i]! - want)).toBeLessThanOrEqual(1e-5 * want);
      });
    }
  });

  test('integer variables index (bounds-checked), bool and u32 variables select and mask', async () => {
    const table = await randn([9, 4], { seed: 2, device }).realize();
    const rows = await table.data();
    for (const i of [0, 4, 8]) {
      const got = await variable(i, { dtype: 'i32', min: 0, max: 8, device }).reshape([1]).embedding(table).data();
      expect(Array.from(got)).toEqual(Array.from(rows.subarray(4 * i, 4 * i + 4)));
    }
    const [a, b] = [tensor([1, 2, 3], { device }), tensor([4, 5, 6], { device })];
    for (const c of [true, false])
      expect(await where(variable(c, { device }), a, b).tolist()).toEqual(c ? [1, 2, 3] : [4, 5, 6]);
    const bits = tensor([0xff00ff00, 0x12345678], { dtype: 'u32', device });
    expect(await bits.bitwiseAnd(variable(0x0ff00ff0, { dtype: 'u32', device })).tolist()).toEqual([
      0x0f000f00, 0x02300670,
    ]);
    expect(
      await variable(-7, { dtype: 'i32', device })
        .add(tensor([1, 2], { dtype: 'i32', device }))
        .tolist(),
    ).toEqual([-6, -5]);
  });

  test('seeds are variables: a new seed compiles nothing, the same seed gives the same values', async () => {
    const first = await randn([3, 5], { seed: 10, device }).data();
    const c0 = stats.compiles;
    const again = await randn([3, 5], { seed: 10, device }).data(),
      other = await randn([3, 5], { seed: 11, device }).data();
    const viaTensor = await randn([3, 5], { seed: variable(10, { dtype: 'u32', device }), device }).data();
    expect(Array.from(again)).toEqual(Array.from(first));
    expect(Array.from(viaTensor)).toEqual(Array.from(first));
    expect(Array.from(other)).not.toEqual(Array.from(first));
    expect(stats.compiles - c0).toBeLessThanOrEqual(1); // the tensor seed hashes in the kernel: one new kernel at most
  });
});

test('bad variables are refused in one line', () => {
  expect(() => variable(1, { dtype: 'f16' as never })).toThrow(
    'variable: dtype f16 is not supported (f32, i32, u32 or bool; cast the result for others)',
  );
  expect(() => variable(2.5, { dtype: 'i32' })).toThrow(
    'variable: 2.5 is not a i32 value in [-2147483648, 2147483647]',
  );
  expect(() => variable(5, { dtype: 'i32', min: 0, max: 3, name: 'x' })).toThrow(
    'variable x: 5 is not a i32 value in [0, 3]',
  );
  expect(() => variable(-1, { dtype: 'u32' })).toThrow('variable: -1 is not a u32 value in [0, 4294967295]');
  expect(() => variable(1, { min: 0 })).toThrow('variable: min and max apply to integer variables, not f32');
  expect(() => variable(1, { dtype: 'i32', min: 4, max: 2 })).toThrow(
    'variable: bounds [4, 2] must be integers within the i32 range',
  );
  expect(() => variable('3' as never)).toThrow('variable: expected a number or a boolean, got string');
});

test('the schedule and compile caches stay bounded over 1000 distinct graphs', async () => {
  const saved = { ...cacheLimits };
  Object.assign(cacheLimits, { schedules: 16, kernels: 24 });
  const backend = new CpuBackend('cpu-small-caches');
  registerDevice(backend);
  try {
    const x = await randn([8], { seed: 3, device: backend.name }).realize();
    await x.mul(variable(-1, { device: backend.name })).data();
    const c0 = stats.compiles,
      sizes = cacheSizes(getDevice(backend.name));
    for (let i = 0; i < 1000; i++) await x.mul(variable(i, { device: backend.name })).data();
    expect(stats.compiles - c0, 'one kernel for every value').toBe(0);
    expect(cacheSizes(getDevice(backend.name))).toEqual(sizes);
    // constants are part of a graph: every one is a new schedule and kernel, and the caches keep the newest
    for (let i = 0; i < 1000; i++) await x.mul(i + 0.5).data();
    expect(cacheSizes(getDevice(backend.name))).toEqual({ schedules: 16, kernels: 24 });
  } finally {
    Object.assign(cacheLimits, saved);
  }
});

/** The kernels of a UNet-like step built twice must be the same objects' worth of compiles: none the second time. */
test('a graph rebuilt from new tensors with new variable values compiles nothing', async () => {
  const w = await randn([8, 4, 3, 3], { seed: 4 }).realize();
  const step = (x: Tensor, t: number) =>
    x.conv2d(w, undefined, { padding: 1 }).groupNorm(2).silu().mul(variable(t)).softmax(1);
  await step(await randn([1, 4, 6, 6], { seed: 5 }).realize(), 0.5).data();
  const c0 = stats.compiles;
  for (let i = 0; i < 5; i++) await step(await randn([1, 4, 6, 6], { seed: 6 + i }).realize(), i).data();
  expect(stats.compiles).toBe(c0);
});
