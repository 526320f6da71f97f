// An output that is a view of an input aliases that input's buffer (no kernel, no copy), but only when
// every element really comes from it.
import { describe, expect, test } from 'vitest';
import { cat, memory, tensor } from '../index.js';
import { plan } from '../runtime/plan.js';
import { backends } from './backends.js';

describe.each(backends)('views on %s', (device) => {
  test('an output that is all padding is zeros, never its input', async () => {
    const x = tensor([5, 6], { dtype: 'i32', device });
    const padding = x.reshape([2, 1]).pad([0, 1]).slice(1, 1); // column 1 of [[5, 0], [6, 0]]
    expect(plan(padding)).toHaveLength(1);
    expect(await padding.tolist()).toEqual([[0], [0]]);
    expect(await x.reshape([2, 1]).pad([0, 1], 7).slice(1, 1).tolist()).toEqual([[7], [7]]);
  });

  test('a slice of cat inside one piece is that piece (the other pieces are all padding there)', async () => {
    const a = tensor([1, 2], { device }),
      b = tensor([3, 4], { device });
    expect(await cat([a, b]).slice(0, 0, 2).tolist()).toEqual([1, 2]);
    expect(await cat([a, b]).slice(0, 2, 4).tolist()).toEqual([3, 4]);
  });

  test('an output that re-reads its input in order is that buffer', async () => {
    const x = tensor([5, 6], { dtype: 'i32', device });
    const before = memory().buffers;
    const view = x.reshape([2, 1]).pad([0, 1]).slice(1, 0, 1); // column 0: x itself
    expect(plan(view)).toHaveLength(0);
    expect(await view.tolist()).toEqual([[5], [6]]);
    expect(memory().buffers).toBe(before);
  });
});
