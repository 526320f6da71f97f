// splitReduce on every backend: long reduces over few outputs match float64 where one f32 accumulator per lane did
// not (a variance of 2^20 values near 1e4 was 35 % off on WebGPU), a GPU runs them as two kernels (the DEBUG=1 cut
// names the rule), and the CPU, which sums in doubles, as one.
import { describe, expect, test, vi } from 'vitest';
import { getDevice, ones, setDebug, tensor, variable, zeros } from '../../index.js';
import { backends } from '../backends.js';

const splitCuts = async (run: () => Promise<unknown>): Promise<number> => {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  setDebug(1);
  try {
    await run();
  } finally {
    setDebug(0);
    spy.mockRestore();
  }
  return lines.filter((l) => l.startsWith('  cut by split reduce: ')).length;
};
const rel = (got: number, want: number): number => Math.abs(got - want) / Math.abs(want);

describe.each(backends)('long reduces on %s', (device) => {
  const gpu = !getDevice(device).caps.globalsAsLoops;

  test('mean and variance of 2^20 values near 1e4', async () => {
    const n = 2 ** 20,
      v = Float32Array.from({ length: n }, (_, i) => 10_000 + (i % 2) + Math.sin(i) * 1e-3);
    let mean = 0;
    for (const x of v) mean += x;
    mean /= n;
    let ss = 0;
    for (const x of v) ss += (x - mean) ** 2;
    const x = tensor(v, { device });
    let got: number[] = [];
    const cuts = await splitCuts(async () => {
      got = [(await x.mean().tolist()) as number, (await x.var().tolist()) as number];
    });
    expect(rel(got[0]!, mean)).toBeLessThan(1e-6);
    expect(rel(got[1]!, ss / (n - 1))).toBeLessThan(1e-4);
    expect(cuts > 0).toBe(gpu);
  });

  test.each([
    ['a prime length (zero padding)', [1_000_003], [0]],
    ['rows of 50,000', [6, 50_000], [1]],
    ['three short axes at once', [40, 40, 30], [0, 1, 2]],
    ['the outer axis of two', [40_000, 3], [0]],
  ] as [string, number[], number[]][])('sum and max over %s', async (_, shape, axes) => {
    const numel = shape.reduce((a, b) => a * b, 1);
    const v = Float32Array.from({ length: numel }, (_, i) => Math.fround(Math.cos(i * 0.61) * 3 + (i % 7)));
    const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
    const outOf = (i: number): number =>
      shape.reduce((o, n, d) => (axes.includes(d) ? o : o * n + (Math.floor(i / strides[d]!) % n)), 0);
    const outs = numel / axes.reduce((a, d) => a * shape[d]!, 1);
    const sum = new Float64Array(outs),
      abs = new Float64Array(outs),
      max = new Float64Array(outs).fill(-Infinity);
    v.forEach((x, i) => {
      sum[outOf(i)]! += x;
      abs[outOf(i)]! += Math.abs(x);
      max[outOf(i)] = Math.max(max[outOf(i)]!, x);
    });
    const x = tensor(v, { shape, device });
    const gotSum = (await x.sum(axes).data()) as Float32Array,
      gotMax = (await x.max(axes).data()) as Float32Array;
    sum.forEach((s, i) => expect(Math.abs(gotSum[i]! - s)).toBeLessThan(2e-7 * abs[i]! + 1e-6));
    max.forEach((m, i) => expect(gotMax[i]).toBe(m));
  });
});

describe('32-bit indices', () => {
  test('a kernel over more than 2^31 - 1 elements, or a reduce that long, is refused, not wrapped', async () => {
    const big = ones([2 ** 31 + 16], { dtype: 'bool' }).logicalAnd(variable(true));
    await expect(big.realize()).rejects.toThrow(
      'realize: a kernel over [2147483664] (2147483664 elements): polygrad indexes with 32-bit integers',
    );
    await expect(
      zeros([2 ** 20, 2 ** 20], { device: 'cpu' })
        .sum()
        .realize(),
    ).rejects.toThrow('(1099511627776 reduced elements per output): polygrad indexes with 32-bit integers');
  });
});
