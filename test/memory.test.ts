// Buffers are released: intermediates after their last use, tensors on dispose / using / scope.
import { describe, expect, test } from 'vitest';
import { type Tensor, memory, randn, scope, tensor } from '../index.js';

describe('memory', () => {
  test('a multi-kernel schedule keeps only its output', async () => {
    const x = await randn([16, 32], { seed: 1 }).realize();
    const before = memory().buffers;
    const y = await x.sub(x.mean(1, true)).softmax(-1).realize();   // several kernels, several intermediates
    expect(memory().buffers).toBe(before + 1);
    y.dispose(); x.dispose();
    expect(memory().buffers).toBe(before - 1);
  });

  test('using disposes at the end of the block', async () => {
    const before = memory().buffers;
    {
      using t = tensor([1, 2, 3]);
      expect(memory().buffers).toBe(before + 1);
      using s = t.sum();
      expect(await s.item()).toBe(6);
      expect(memory().buffers).toBe(before + 2);
    }
    expect(memory().buffers).toBe(before);
  });

  test('scope frees everything made inside, across await, except what it returns', async () => {
    const before = memory().buffers;
    const kept = await scope(async () => {
      const a = await randn([8, 8], { seed: 2 }).realize();
      await new Promise((r) => setTimeout(r, 1));
      const b = await a.matmul(a).realize();
      const c = await b.relu().realize();
      return { c, note: 'kept' };
    });
    expect(memory().buffers).toBe(before + 1);
    expect(kept.c.disposed).toBe(false);
    expect((await kept.c.data()).length).toBe(64);
    kept.c.dispose();
    expect(memory().buffers).toBe(before);
  });

  test('a frame loop under scope does not grow memory', async () => {
    let state: Tensor = await randn([4, 16], { seed: 3 }).realize();
    const w = await randn([16, 16], { seed: 4 }).realize();
    const start = memory().buffers;
    for (let frame = 0; frame < 5; frame++) {
      const prev = state;
      state = await scope(async () => prev.matmul(w).tanh().realize());
      prev.dispose();
      expect(memory().buffers).toBe(start);
    }
  });
});
