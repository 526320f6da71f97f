// A CPU kernel split between worker threads gives the single-threaded result bit for bit, reports a worker's
// failure with the same message, and leaks nothing.
import { describe, expect, test } from 'vitest';
import { CpuBackend, type Tensor, registerDevice, tensor } from '../index.js';
import { live } from './live.js';
import { type Nd, numel, reduce, uniform } from './ops/nd.js';
import * as R from './ops/ref.js';

// 3 threads (2 workers) even on a 2-core machine, and every kernel big enough to split
registerDevice(new CpuBackend('cpu-threads', {}, { threads: 3, minWork: 0 }));

interface Case {
  readonly name: string;
  readonly inputs: number[][];
  readonly run: (...t: Tensor[]) => Tensor;
  readonly ref: (...x: Nd[]) => Nd;
  readonly f16?: boolean;
}

const cases: Case[] = [
  {
    name: 'matmul 96x128 @ 128x80',
    inputs: [
      [96, 128],
      [128, 80],
    ],
    run: (a, b) => a!.matmul(b!),
    ref: R.matmul,
  },
  {
    name: 'matmul with an outer loop shorter than the threads',
    inputs: [
      [2, 64],
      [64, 33],
    ],
    run: (a, b) => a!.matmul(b!),
    ref: R.matmul,
  },
  {
    name: 'conv2d 3x3 8->16 20x20 +bias',
    inputs: [[2, 8, 20, 20], [16, 8, 3, 3], [16]],
    run: (x, w, b) => x!.conv2d(w!, b!, { padding: 1 }),
    ref: (x, w, b) => R.conv2d(x, w, b),
  },
  { name: 'softmax 100x300', inputs: [[100, 300]], run: (x) => x!.softmax(-1), ref: (x) => R.softmax(x, -1) },
  {
    name: 'groupNorm(4) 2x16x20x20',
    inputs: [[2, 16, 20, 20], [16], [16]],
    run: (x, w, b) => x!.groupNorm(4, w!, b!),
    ref: (x, w, b) => R.groupNorm(x, 4, w, b),
  },
  {
    name: 'sum over the leading axis of 300x200',
    inputs: [[300, 200]],
    run: (x) => x!.sum(0),
    ref: (x) => reduce(x, [0], (v) => v.reduce((a, b) => a + b, 0)),
  },
  {
    name: 'a full sum (no global loop: one thread)',
    inputs: [[500, 7]],
    run: (x) => x!.sum(),
    ref: (x) => reduce(x, undefined, (v) => v.reduce((a, b) => a + b, 0)),
  },
  {
    name: 'f16 exp',
    inputs: [[257, 9]],
    f16: true,
    run: (x) => x!.cast('f16').exp().cast('f32'),
    ref: (x) => ({ shape: x.shape, data: x.data.map(Math.exp) }),
  },
];

async function values(c: Case, device: string): Promise<Float32Array> {
  const ts = c.inputs.map((shape, i) => tensor(Float32Array.from(uniform(shape, 10 + i).data), { shape, device }));
  const y = c.run(...ts);
  const out = (await y.data()) as Float32Array;
  for (const t of [...ts, y]) t.dispose();
  return out;
}

describe('CPU kernels on worker threads', () => {
  test.each(cases)('$name: bitwise equal to one thread, close to float64', async (c) => {
    const before = live();
    const one = await values(c, 'cpu'),
      many = await values(c, 'cpu-threads');
    expect(many).toEqual(one);
    expect(Buffer.from(many.buffer).equals(Buffer.from(one.buffer))).toBe(true); // -0 and NaN bits too
    const want = c.ref(...c.inputs.map((shape, i) => uniform(shape, 10 + i)));
    expect(many.length).toBe(numel(want.shape));
    const tol = c.f16 ? 2e-3 : 1e-4;
    const bad = [...want.data].flatMap((w, i) =>
      Math.abs(many[i]! - w) <= tol * (1 + Math.abs(w)) ? [] : [`[${i}] got ${many[i]}, want ${w}`],
    );
    expect(bad.slice(0, 5)).toEqual([]);
    expect(live()).toEqual(before);
  });

  test('an index out of range in a worker chunk fails with the single-threaded message', async () => {
    const before = live();
    const message = async (device: string, idx: number[]): Promise<string> => {
      const weight = tensor(
        Float32Array.from({ length: 12 }, (_, i) => i),
        { shape: [4, 3], device },
      );
      const ids = tensor(idx, { dtype: 'i32', device });
      const y = ids.embedding(weight);
      const err = await y.data().then(
        () => 'no error',
        (e: Error) => e.message,
      );
      for (const t of [weight, ids, y]) t.dispose();
      return err;
    };
    // 60 rows in 12 chunks of 5 on 3 threads: chunk 1 (rows 5..9) is always the first worker's
    const bad = Array.from({ length: 60 }, (_, i) => (i === 7 ? 7 : i % 4));
    expect(await message('cpu-threads', bad)).toMatch(
      /gather: index into dim 0 of \[4,3\]: index 7 is out of range \[0, 3\]/,
    );
    expect(await message('cpu-threads', bad)).toBe(await message('cpu', bad));
    // several chunks fail: the first one's error wins, as on one thread (the worker's, then this thread's)
    for (const [idx, first] of [
      [bad.map((v, i) => (i === 57 ? 9 : v)), 7],
      [bad.map((v, i) => (i === 57 ? 9 : i === 1 ? -5 : v)), -5],
    ] as const) {
      expect(await message('cpu-threads', idx)).toMatch(`index ${first} is out of range`);
      expect(await message('cpu-threads', idx)).toBe(await message('cpu', idx));
    }
    // the workers are fine afterwards
    expect(
      await message(
        'cpu-threads',
        bad.map((v) => v % 4),
      ),
    ).toBe('no error');
    expect(live()).toEqual(before);
  });
});
