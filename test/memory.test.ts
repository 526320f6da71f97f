// Buffers are released: intermediates after their last use, tensors on dispose / using / scope.
import { describe, expect, test } from 'vitest';
import { type Tensor, memory, randn, realize, scope, tensor } from '../index.js';
import { live } from './live.js';

const input = (shape: number[], seed: number): Promise<Tensor> => randn(shape, { seed }).realize();

// Each pattern computes from realized inputs and returns every tensor the user holds.
const patterns: Record<string, () => Promise<Tensor[]>> = {
  'matmul with a transposed operand': async () => {
    const a = await input([4, 3], 1),
      b = await input([5, 3], 2);
    const c = a.matmul(b.transpose(0, 1)); // matmul transposes again: the view folds back onto b
    await c.data();
    return [a, b, c];
  },
  scaledDotProductAttention: async () => {
    const [q, k, v] = await Promise.all([1, 2, 3].map((s) => input([2, 4, 8], s)));
    const o = q.scaledDotProductAttention(k, v);
    await o.data();
    return [q, k, v, o];
  },
  'an intermediate permute that undoes itself': async () => {
    const a = await input([2, 3, 4], 4);
    const b = a.permute(2, 0, 1).permute(1, 2, 0).exp();
    await b.data();
    return [a, b];
  },
  'expand (to the same shape and broadcast)': async () => {
    const a = await input([1, 4], 5);
    const b = a.expand([1, 4]).add(a.expand([3, 4]));
    await b.data();
    return [a, b];
  },
  'contiguous of a view and of a buffer': async () => {
    const a = await input([3, 4], 6);
    const b = a.T.contiguous(),
      c = a.contiguous();
    await realize(b, c);
    return [a, b, c];
  },
  'repeated and concurrent reads of one lazy tensor': async () => {
    const a = await input([8], 7);
    const b = a.exp();
    await b.data();
    await Promise.all([b.data(), b.realize(), b.tolist()]);
    return [a, b];
  },
  'two tensors sharing one subgraph': async () => {
    const a = await input([8], 8);
    const s = a.exp().mul(2);
    const b = s.add(1),
      c = s.sub(1);
    await realize(b, c);
    const d = a.exp().mul(2); // the shared subgraph again, as a tensor of its own
    await d.data();
    return [a, b, c, d];
  },
};

describe('memory', () => {
  test('a multi-kernel schedule keeps only its output', async () => {
    const x = await randn([16, 32], { seed: 1 }).realize();
    const before = memory().buffers;
    const y = await x.sub(x.mean(1, true)).softmax(-1).realize(); // several kernels, several intermediates
    expect(memory().buffers).toBe(before + 1);
    y.dispose();
    x.dispose();
    expect(memory().buffers).toBe(before - 1);
  });

  test.each(Object.keys(patterns))('disposing every tensor frees every buffer: %s', async (name) => {
    const before = live();
    const held = await patterns[name]!();
    held.forEach((t) => t.dispose());
    expect(live()).toEqual(before);
  });

  test.each([
    ['a view that folds back onto its base', (a: Tensor) => a.T.T],
    ['a reshape', (a: Tensor) => a.reshape([4])],
  ])('a realized view owns its values, like any result: %s', async (_, view) => {
    const a = tensor([
      [1, 2],
      [3, 4],
    ]);
    const before = memory().buffers;
    const v = await view(a).realize();
    a.dispose();
    expect(Array.from(await v.data())).toEqual([1, 2, 3, 4]);
    v.dispose();
    expect(memory().buffers).toBe(before - 1);
  });

  test('disposing a tensor while data() is pending: the read resolves and nothing leaks', async () => {
    const a = tensor([0, 1, 2]);
    const before = live();
    const computing = a.exp();
    const read = computing.data();
    computing.dispose();
    expect(Array.from(await read)).toEqual([1, Math.E, Math.E ** 2].map((v) => expect.closeTo(v, 5)));
    expect(live()).toEqual(before);

    const realized = await a.exp().realize(); // the dispose lands between realize and download
    const reading = realized.data();
    realized.dispose();
    expect((await reading).length).toBe(3);
    expect(live()).toEqual(before);

    const pending = a.exp();
    const run = pending.realize();
    pending.dispose();
    await run;
    expect(live()).toEqual(before);
  });

  test(
    'disposing an input while a read of its result is pending: the kernels still see it, then it is ' + 'freed',
    async () => {
      const before = live();
      const a = tensor([0, 1, 2]);
      const y = a.exp().add(a),
        read = y.data();
      a.dispose();
      expect(Array.from(await read)).toEqual([1, Math.E + 1, Math.E ** 2 + 2].map((v) => expect.closeTo(v, 5)));
      y.dispose();
      expect(live()).toEqual(before);
      const b = tensor([5, 6]);
      const view = b.reshape([1, 2]).reshape([2, 1]),
        same = view.data(); // an output that is the input's own buffer
      b.dispose();
      expect(Array.from(await same)).toEqual([5, 6]);
      view.dispose();
      expect(live()).toEqual(before);
    },
  );

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

  test('scope returns lazy tensors computed from tensors it disposes', async () => {
    const before = memory().buffers;
    const { y, z, same } = await scope(async () => {
      const a = tensor([1, 2, 3]),
        b = a.mul(2);
      const shared = b.add(a);
      return { y: shared.exp().log(), z: shared.neg(), same: a.reshape([1, 3]).reshape([3]) }; // same: a's own buffer
    });
    expect(memory().buffers).toBe(before + 3);
    expect(await y.tolist()).toEqual([3, 6, 9].map((v) => expect.closeTo(v, 4)));
    expect(await z.tolist()).toEqual([-3, -6, -9]);
    expect(await same.tolist()).toEqual([1, 2, 3]);
    y.dispose();
    z.dispose();
    same.dispose();
    expect(memory().buffers).toBe(before);
  });

  test('a scope whose result cannot be computed frees everything and rejects', async () => {
    const outside = tensor([1, 2]);
    const before = memory().buffers;
    const lazy = outside.exp();
    outside.dispose();
    await expect(
      scope(async () => {
        const t = tensor([1, 2]);
        return t.add(lazy);
      }),
    ).rejects.toThrow('was disposed before the tensors computed from it');
    expect(memory().buffers).toBe(before - 1);
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
