// Collection points (runtime/turn.ts): a loop that never yields to the event loop keeps a bounded heap. Its own
// file, so no other test's garbage or compiled code lands in the measured heap.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, test } from 'vitest';
import { stats, tensor } from '../index.js';
import { setCollectEvery } from '../runtime/turn.js';

describe('collection points', () => {
  // gc() without --expose-gc: heap figures are only comparable after a full collection
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapAfter = async (iterations: number): Promise<number> => {
    for (let i = 0; i < iterations; i++) {
      // a fresh 16 KB input each time: without collection points its node (and so its data) is kept by the
      // WeakRef of the hash-cons table until the event loop turns, which this loop never lets it do
      const x = tensor(
        Float32Array.from({ length: 4096 }, (_, j) => Math.sin(i + j)),
        { shape: [64, 64] },
      );
      const s = await x.mul(2).add(1).sum().data();
      if (!Number.isFinite(s[0])) throw new Error('bad sum');
    }
    gc();
    gc(); // the second collection finishes what the first left to sweep
    // (arrayBuffers would count the inputs' data too, but their backing stores are freed by a background sweeper)
    return process.memoryUsage().heapUsed;
  };

  test('a loop that never yields keeps the heap bounded', async () => {
    try {
      setCollectEvery(500);
      await heapAfter(1000); // warm-up: compiled code, caches
      const base = await heapAfter(500);
      // the heap also moves by a few MB on its own on a loaded machine (CI once measured 7.5 MB of 19.6): the
      // smaller of two runs is what the loop itself kept
      const bounded = Math.min((await heapAfter(4000)) - base, (await heapAfter(4000)) - base);
      const before = await heapAfter(0);
      setCollectEvery(Infinity);
      const unbounded = (await heapAfter(4000)) - before;
      // every input keeps its nodes, tensor and buffer objects (~5 KB of heap each) until the event loop turns;
      // with collection points only the last ~100 stay (~0.5 MB), whatever else the heap does meanwhile
      expect(unbounded).toBeGreaterThan(12e6);
      expect(bounded).toBeLessThan(unbounded / 2);
    } finally {
      setCollectEvery(20_000);
    }
  }, 120_000);

  test('compiles back to back give the event loop turns: a progress ticker runs during a warm-up', async () => {
    try {
      setCollectEvery(Infinity); // no collection points: only the compiles' own turns
      let ticks = 0;
      const tick = setInterval(() => {
        ticks++;
      }, 5);
      const c0 = stats.compiles,
        t0 = performance.now();
      // kernels never compiled before (each constant is part of its kernel's source) for 300 ms, on the CPU where
      // a compile is synchronous work that settles at once
      let n = 0;
      for (; performance.now() - t0 < 300; n++)
        await tensor([1, 2, 3, 4])
          .mul(1 + n / 4096)
          .exp()
          .sub(n)
          .data();
      clearInterval(tick);
      const ms = performance.now() - t0;
      expect(stats.compiles - c0).toBeGreaterThanOrEqual(n);
      // a turn after every 50 busy ms, so a tick about every 50 ms (without those turns: none at all)
      expect(ticks).toBeGreaterThanOrEqual(Math.floor(ms / 100));
    } finally {
      setCollectEvery(20_000);
    }
  }, 60_000);
});
