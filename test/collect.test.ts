// Collection points (runtime/turn.ts): a loop that never yields to the event loop keeps a bounded heap. Its own
// file, so no other test's garbage or compiled code lands in the measured heap.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { tensor } from '../index.js';
import { setCollectEvery } from '../runtime/turn.js';

describe('collection points', () => {
  // gc() without --expose-gc: heap figures are only comparable after a full collection
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapAfter = async (iterations: number): Promise<number> => {
    for (let i = 0; i < iterations; i++) {
      // a fresh 16 KB input each time: without collection points its node (and so its data) is kept by the
      // WeakRef of the hash-cons table until the event loop turns, which this loop never lets it do
      const x = tensor(Float32Array.from({ length: 4096 }, (_, j) => Math.sin(i + j)), { shape: [64, 64] });
      const s = await x.mul(2).add(1).sum().data();
      if (!Number.isFinite(s[0])) throw new Error('bad sum');
    }
    gc(); gc();   // the second collection finishes what the first left to sweep
    // (arrayBuffers would count the inputs' data too, but their backing stores are freed by a background sweeper)
    return process.memoryUsage().heapUsed;
  };

  test('a loop that never yields keeps the heap bounded', async () => {
    try {
      setCollectEvery(500);
      await heapAfter(1000);                     // warm-up: compiled code, caches
      const base = await heapAfter(500);
      const bounded = await heapAfter(4000) - base;
      setCollectEvery(Infinity);
      const unbounded = await heapAfter(4000) - base - bounded;
      // every input keeps its nodes, tensor and buffer objects (~5 KB of heap each) until the event loop turns;
      // with collection points only the last ~100 stay, whatever else the heap does meanwhile
      expect(unbounded).toBeGreaterThan(12e6);
      expect(bounded).toBeLessThan(unbounded / 3);
    } finally {
      setCollectEvery(20_000);
    }
  }, 120_000);
});
