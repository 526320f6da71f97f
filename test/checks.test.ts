// A data-dependent index out of range fails the read with the op's message on every backend: the CPU throws at
// realize; a GPU kernel cannot throw, so it records (code, value) in a status word that the next read raises
// (as CUDA reports device-side asserts).
import { describe, expect, test } from 'vitest';
import { randn, tensor } from '../index.js';
import { backends } from './backends.js';
import { live } from './live.js';

describe.each(backends)('index checks on %s', (device) => {
  test('an embedding index out of range fails the read, names the op, and leaves nothing behind', async () => {
    const weight = await randn([4, 3], { seed: 1, device }).realize();
    const before = live();
    const idx = [
      tensor([1, 7, 2], { dtype: 'i32', device }),
      tensor([3, 0], { dtype: 'i32', device }),
      tensor([-1], { dtype: 'i32', device }),
    ];
    const bad = idx[0]!.embedding(weight);
    await expect(bad.data()).rejects.toThrow(/gather: index into dim 0 of \[4,3\]: index 7 is out of range \[0, 3\]/);
    bad.dispose();
    const good = idx[1]!.embedding(weight);
    expect((await good.data()).length).toBe(6); // the status was cleared: later reads work
    const want = await weight.data();
    expect(Array.from(await good.data())).toEqual([...want.slice(9, 12), ...want.slice(0, 3)]);
    good.dispose();
    const negative = idx[2]!.embedding(weight);
    await expect(negative.data()).rejects.toThrow(/index -1 is out of range \[0, 3\]/);
    negative.dispose();
    idx.forEach((t) => t.dispose());
    expect(live()).toEqual(before);
  });
});
