// The parts the GPU backends share: size classes that waste little and stay within the device's largest
// buffer, a pool that keeps a bounded number per class, and launch grids folded past the largest dimension.
import { describe, expect, test } from 'vitest';
import type { GraphLaunch } from '../../backends/backend.js';
import { BufferPool, StatusWord, launchDependencies, launchGrid } from '../../backends/common.js';
import type { Kernel } from '../../codegen/kernel.js';

describe('BufferPool size classes', () => {
  const sizes = [1, 3, 16, 17, 1000, 4097, 2 ** 20, 2 ** 20 + 1, 3 * 2 ** 20 + 5, 1e8 + 3, 2 ** 31 - 1];
  test.each(sizes)('%d bytes: a class that holds them, a multiple of 4, at most an eighth over past 1 MiB', (bytes) => {
    const size = BufferPool.sizeOf(bytes);
    expect(size).toBeGreaterThanOrEqual(bytes);
    expect(size % 4).toBe(0);
    if (bytes > 2 ** 20) expect(size).toBeLessThanOrEqual(bytes * 1.125 + 4);
    else expect(Math.log2(size) % 1).toBe(0);
  });
  test('classes are few: the sizes in an eighth past 4 MiB share one', () => {
    const classes = new Set(Array.from({ length: 4000 }, (_, i) => BufferPool.sizeOf(2 ** 22 + 1 + i * 131)));
    expect([...classes]).toEqual([2 ** 22 * 1.125]);
  });
  test("a class never passes the device's largest buffer where the bytes fit in it", () => {
    const max = 200 * 2 ** 20 + 12;
    expect(BufferPool.sizeOf(max - 100, max)).toBeLessThanOrEqual(max);
    expect(BufferPool.sizeOf(max - 100, max)).toBeGreaterThanOrEqual(max - 100);
  });
  test('freed buffers come back for their class only; past `keep` a class destroys them', () => {
    const destroyed: string[] = [];
    const pool = new BufferPool<string>((b) => destroyed.push(b), 2);
    for (const b of ['a', 'b', 'c']) pool.give(64, b);
    expect(destroyed).toEqual(['c']);
    expect(pool.take(128)).toBeUndefined();
    expect([pool.take(64), pool.take(64), pool.take(64)]).toEqual(['b', 'a', undefined]);
  });
  test('maxBytes bounds what all classes keep together; a take makes room again', () => {
    const destroyed: string[] = [];
    const pool = new BufferPool<string>((b) => destroyed.push(b), 16, 3000);
    pool.give(1024, 'a');
    pool.give(2048, 'b');
    expect(destroyed).toEqual(['b']);
    pool.give(1024, 'c');
    expect(pool.take(1024)).toBe('c');
    pool.give(1024, 'd');
    pool.give(1024, 'e');
    expect(destroyed).toEqual(['b', 'e']);
    pool.drain();
    pool.give(2048, 'f');
    expect(pool.take(2048)).toBe('f');
  });
  test('drain destroys every kept buffer, once', () => {
    const destroyed: string[] = [];
    const pool = new BufferPool<string>((b) => destroyed.push(b));
    pool.give(16, 'a');
    pool.give(1024, 'b');
    expect(pool.drain()).toBe(2);
    expect(destroyed.sort()).toEqual(['a', 'b']);
    expect([pool.drain(), pool.take(16)]).toEqual([0, undefined]);
  });
});

describe('StatusWord', () => {
  test('a read fetches the word only after a checked kernel ran, once', () => {
    const w = new StatusWord();
    w.launched(false);
    expect(w.take()).toBe(false);
    w.launched(true);
    w.launched(false);
    expect([w.take(), w.take()]).toEqual([true, false]);
  });
  test('an empty word is no error', () => expect(StatusWord.error(new Uint32Array(2))).toBeUndefined());
});

describe('launchGrid', () => {
  const kernel = (n: number): Kernel => ({
    name: `e_${n}`,
    shape: [n],
    params: [{ dtype: 'f32', numel: n, write: true }],
    stores: [],
  });
  test('workgroups fold into y past the largest dimension, covering every one', () => {
    const [x, y, z] = launchGrid('gpu', kernel(10 * 64 + 1), 64, 4);
    expect([x, y, z]).toEqual([4, 3, 1]);
    expect(x * y).toBeGreaterThanOrEqual(11);
  });
  test('a grid past maxGrid² is refused, naming the kernel and the limit', () => {
    expect(() => launchGrid('gpu', kernel(17 * 64), 64, 4)).toThrow(
      'gpu: e_1088 needs 17 workgroups, more than 4² the device allows',
    );
  });
});

describe('launchDependencies', () => {
  /** A launch over table entries `bufs`, writing those at the indices in `writes`. */
  const launch = (bufs: number[], writes: number[]): GraphLaunch => ({
    program: { name: 'k', source: '' },
    kernel: { name: 'k', shape: [1], stores: [], params: bufs.map((_, j) => ({ write: writes.includes(j) })) } as never,
    bufs,
    vals: [],
  });
  test('reads after writes, writes after reads and writes after writes wait; reads of one entry do not', () => {
    const deps = launchDependencies([
      launch([0, 1], [0]), // 0: writes 0, reads 1
      launch([2, 1], [0]), // 1: writes 2, reads 1 — independent of 0
      launch([3, 0, 2], [0]), // 2: reads 0 and 2
      launch([1], [0]), // 3: writes 1, which 0 and 1 read
      launch([0], [0]), // 4: rewrites 0, which 2 read and 0 wrote
    ]);
    expect(deps).toEqual([[], [], [0, 1], [0, 1], [0, 2]]);
  });
  test('on random steps, every pair sharing an entry that one of them writes is ordered by the dependencies', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    for (let trial = 0; trial < 200; trial++) {
      const launches = Array.from({ length: 2 + rand(12) }, () => {
        const bufs = [...new Set(Array.from({ length: 1 + rand(4) }, () => rand(6)))];
        return launch(bufs, [0, ...(rand(4) ? [] : [bufs.length - 1])]);
      });
      const deps = launchDependencies(launches);
      const after = deps.map(() => new Set<number>()); // transitive closure of the dependencies
      deps.forEach((ds, j) => {
        for (const d of ds) {
          expect(d).toBeLessThan(j);
          after[j]!.add(d);
          for (const e of after[d]!) after[j]!.add(e);
        }
      });
      const touches = (l: GraphLaunch, t: number, written: boolean): boolean =>
        l.bufs.some((b, k) => b === t && (!written || l.kernel.params[k]!.write));
      launches.forEach((lj, j) =>
        launches.slice(0, j).forEach((li, i) => {
          const conflict = lj.bufs.some(
            (t) => (touches(li, t, true) && touches(lj, t, false)) || (touches(lj, t, true) && touches(li, t, false)),
          );
          if (conflict) expect(after[j]!.has(i), `trial ${trial}: ${i} before ${j}`).toBe(true);
          // and a direct dependency is always such a pair
          if (deps[j]!.includes(i)) expect(conflict, `trial ${trial}: ${i} → ${j} without a shared entry`).toBe(true);
        }),
      );
    }
  });
});
