// Structural facts about the schedule: how many kernels each pattern fuses into, and that the
// cuts the rules promise (buffer cap, broadcast reduces) really happen. No device runs here.
import { describe, expect, test } from 'vitest';
import { CpuBackend, type Tensor, registerDevice, randn, tensor, stats } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';

const names = (...t: Tensor[]): string[] => plan(...t).map((k) => k.name);
const expectKernels = (n: number, ...t: Tensor[]): void => {
  expect(names(...t), `kernels: ${names(...t).join(', ')}`).toHaveLength(n);
};
describe.each(backends)('fusion on %s', (device) => {
  const input = (shape: number[], seed: number): Promise<Tensor> => randn(shape, { seed, device }).realize();

  test('(a*b+c).relu().sum(1) is one kernel', async () => {
    const [a, b, c] = await Promise.all([input([8, 16], 1), input([8, 16], 2), input([16], 3)]);
    expectKernels(1, a.mul(b).add(c).relu().sum(1));
  });

  test('an elementwise chain over permuted, flipped, padded and sliced views is one kernel', async () => {
    const a = await input([6, 5], 4);
    expectKernels(1, a.T.flip(0).pad([1, 1]).slice(1, 1, 7).exp().add(a.T.sqrt().abs()));
  });

  test('conv2d + bias + silu is one kernel', async () => {
    const [x, w, b] = await Promise.all([input([1, 4, 8, 8], 5), input([6, 4, 3, 3], 6), input([6], 7)]);
    expectKernels(1, x.conv2d(w, b, { padding: 1 }).silu());
  });

  test('matmul + bias + relu is one kernel', async () => {
    const [x, w, b] = await Promise.all([input([4, 32], 8), input([16, 32], 9), input([16], 10)]);
    expectKernels(1, x.linear(w, b).relu());
  });

  test('softmax is two kernels: max and sum together, then the normalize', async () => {
    const x = await input([4, 64], 11);
    const k = names(x.softmax(-1));
    expect(k).toHaveLength(2);
    expect(k).toEqual([expect.stringMatching(/^r_softmax_4_64x64/), expect.stringMatching(/^e_softmax_4x64/)]);
  });

  test('LSTM cell (two matmuls + bias + gates, h and c) is one kernel', async () => {
    const B = 2,
      I = 8,
      H = 16;
    const [x, h, c, wih, whh, b] = await Promise.all([
      input([B, I], 12),
      input([B, H], 13),
      input([B, H], 14),
      input([4 * H, I], 15),
      input([4 * H, H], 16),
      input([4 * H], 17),
    ]);
    const [i, f, g, o] = x.linear(wih).add(h.linear(whh)).add(b).chunk(4, 1) as [Tensor, Tensor, Tensor, Tensor];
    const c2 = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
    const h2 = o.sigmoid().mul(c2.tanh());
    // each gate element feeds one output, so the gate matmuls run inside the gates kernel: no gemm kernel at all
    expectKernels(1, h2, c2);
  });

  test('groupNorm + silu is two kernels (mean and variance together, then normalize)', async () => {
    const x = await input([2, 8, 4, 4], 18);
    expectKernels(2, x.groupNorm(4).silu());
  });

  test('a reduce broadcast back over the output is realized, not recomputed per element', async () => {
    const x = await input([16, 32], 19);
    expectKernels(2, x.sub(x.mean(1, true)));
  });

  test('costly work reused across a reduce is realized: groupNorm -> silu -> conv is three kernels', async () => {
    const [x, w] = await Promise.all([input([1, 8, 6, 6], 20), input([8, 8, 3, 3], 21)]);
    expectKernels(3, x.groupNorm(4).silu().conv2d(w, undefined, { padding: 1 }));
  });

  test('a movement-only result of a realized tensor is that buffer: no kernel', async () => {
    const x = await input([4, 6], 22);
    expectKernels(0, x.reshape([2, 12]));
  });

  test('the device buffer cap cuts kernels and the result stays right', async () => {
    registerDevice(new CpuBackend('cpu-cap4', { maxBuffers: 4 }));
    // the WebGPU cap: test/webgpu/limits
    const xs = [1, 2, 3, 4, 5, 6].map((v) => tensor([v, v * 10], { device: 'cpu-cap4' }));
    const sum = xs.reduce((a, b) => a.add(b));
    const kernels = plan(sum);
    expect(kernels.length).toBeGreaterThan(1);
    for (const k of kernels) expect(k.params.length).toBeLessThanOrEqual(4);
    expect(await sum.tolist()).toEqual([21, 210]);
  });

  test('a second realize of the same graph compiles nothing and hits the schedule cache', async () => {
    const [a, b] = await Promise.all([input([32, 32], 23), input([32, 32], 24)]);
    const step = (x: Tensor, y: Tensor) => x.matmul(y).add(x).softmax(-1);
    await step(a, b).realize();
    const [a2, b2] = await Promise.all([input([32, 32], 25), input([32, 32], 26)]);
    const before = { compiles: stats.compiles, hits: stats.scheduleCacheHits };
    await step(a2, b2).realize();
    expect(stats.compiles).toBe(before.compiles);
    expect(stats.scheduleCacheHits).toBe(before.hits + 1);
  });
});
