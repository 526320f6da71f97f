// jit(fn): replays give the same bits as running fn, take new inputs and variables, allocate only their outputs,
// and refuse what a capture cannot replay (read-backs, values that change inside fn).
import { describe, expect, test } from 'vitest';
import { type Tensor, jit, memory, randn, stats, tensor, variable } from '../../index.js';
import { backends } from '../backends.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';
import { live } from '../live.js';

/** Bitwise equality of two float arrays (NaN equals NaN, -0 differs from 0). */
function expectSameBits(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length, what).toBe(want.length);
  const bad: string[] = [];
  for (let i = 0; i < want.length && bad.length < 3; i++)
    if (!Object.is(got[i], want[i])) bad.push(`[${i}] ${got[i]} vs ${want[i]}`);
  expect(bad, what).toEqual([]);
}

describe.each(backends)('jit on %s', (device) => {
  const input = (shape: number[], seed: number): Promise<Tensor> => randn(shape, { seed, device }).realize();

  test('every op-suite case: a replay gives the bits of running the function, on new inputs each call', async () => {
    for (const c of cases) {
      const f = jit((...xs: Tensor[]) => c.run(...xs));
      for (let call = 0; call < 4; call++) {
        const xs = c.inputs.map((s, i) => {
          if (s.values) return tensor(s.values, { shape: s.shape, device });
          const u = uniform(s.shape, 7919 * call + 31 * i + 1, s.lo ?? -2, s.hi ?? 2).data;
          return tensor(Float32Array.from(s.int ? u.map(Math.round) : u), { shape: s.shape, device });
        });
        const got = await f(...xs),
          want = c.run(...xs);
        expectSameBits(await got.data(), await want.data(), `${c.name}, call ${call}`);
        for (const t of [got, want, ...xs]) t.dispose();
      }
      expect(f.stats.replays, c.name).toBe(2);
      f.dispose();
    }
  }, 240_000);

  test('a replay launches the captured kernels, compiles nothing and allocates only its outputs', async () => {
    const [x, w, b] = await Promise.all([input([4, 32], 1), input([16, 32], 2), input([16], 3)]);
    const f = jit((x: Tensor, s: Tensor) => x.linear(w, b).relu().mul(s).softmax(-1));
    for (let i = 0; i < 2; i++) (await f(x, variable(i, { device }))).dispose();
    const before = { kernels: stats.kernels, compiles: stats.compiles, schedules: stats.schedules, mem: live() };
    const outs: Tensor[] = [];
    for (let i = 0; i < 5; i++) outs.push(await f(x, variable(0.5 + i, { device })));
    expect(stats.compiles - before.compiles).toBe(0);
    expect(stats.schedules - before.schedules).toBe(0);
    expect(stats.kernels - before.kernels).toBe(5 * f.stats.launches);
    expect(f.stats.launches).toBe(3); // matmul+bias+relu+scale, softmax's max/sum, the normalize
    expect(memory().buffers - before.mem.buffers).toBe(5); // one output each
    // each replay's output is its own: earlier ones keep their values
    for (const [i, o] of outs.entries()) {
      using want = x
        .linear(w, b)
        .relu()
        .mul(0.5 + i)
        .softmax(-1);
      expectSameBits(await o.data(), await want.data(), `replay ${i}`);
    }
    for (const o of outs) o.dispose();
    expect(live()).toEqual(before.mem);
    f.dispose();
  });

  test('variables reach the kernels of a replay: integers as indices, floats as scales, seeds', async () => {
    const table = await input([10, 6], 4);
    const f = jit((i: Tensor, s: Tensor, seed: Tensor) =>
      i
        .reshape([1])
        .embedding(table)
        .mul(s)
        .add(randn([1, 6], { seed, device })),
    );
    for (const [i, s, seed] of [
      [0, 1, 5],
      [3, 2, 6],
      [9, -1, 7],
      [4, 0.25, 8],
      [4, 0.25, 9],
    ] as const) {
      const got = await f(
        variable(i, { dtype: 'i32', min: 0, max: 9, device }),
        variable(s, { device }),
        variable(seed, { dtype: 'u32', device }),
      );
      const want = table
        .narrow(0, i, 1)
        .mul(s)
        .add(randn([1, 6], { seed, device }));
      expectSameBits(await got.data(), await want.data(), `row ${i} × ${s}, seed ${seed}`);
    }
    expect(f.stats.replays).toBe(3);
  });

  test('a new shape, dtype or aliasing is a new capture; plain values too', async () => {
    const f = jit((a: Tensor, b: Tensor, k: number) => a.add(b).mul(k));
    const [a, b, c] = await Promise.all([input([3, 4], 5), input([3, 4], 6), input([2, 5], 7)]);
    for (let i = 0; i < 3; i++)
      expectSameBits(await (await f(a, b, 2)).data(), await a.add(b).mul(2).data(), 'same signature');
    expect(f.stats).toMatchObject({ captures: 1, replays: 1 });
    for (let i = 0; i < 3; i++)
      expectSameBits(await (await f(c, c, 2)).data(), await c.add(c).mul(2).data(), 'new shape, aliased');
    for (let i = 0; i < 3; i++)
      expectSameBits(await (await f(a, b, 3)).data(), await a.add(b).mul(3).data(), 'new constant');
    expect(f.stats).toMatchObject({ captures: 3, replays: 3 });
  });

  test('an argument equal to a node inside (a constant, an expression it builds) stands for itself', async () => {
    // the capturing call's argument is the constant the function adds (and the expression it also computes): both
    // were realized into the argument's buffer, which a replay refills with the next argument
    const w = await input([2], 11);
    const f = jit((x: Tensor) => x.add(1).add(x.mul(w.exp())).sub(w.exp()));
    const args = [5, 1, 7, 9].map((v, i) => (i === 3 ? w.exp() : tensor([v, v], { device })));
    for (const [i, x] of args.entries()) {
      const want = await x.add(1).add(x.mul(w.exp())).sub(w.exp()).data();
      expectSameBits(await (await f(x)).data(), want, `call ${i}`);
    }
    const g = jit((x: Tensor) => x.mul(3));
    for (const v of [5, 3, 7, 9])
      expect(await (await g(tensor([v, v], { device }).mul(1))).tolist()).toEqual([3 * v, 3 * v]);
    const h = jit((x: Tensor) => x.add(w.exp()));
    for (const x of [tensor([1, 2], { device }), w.exp(), tensor([3, 4], { device }), tensor([5, 6], { device })])
      expectSameBits(await (await h(x)).data(), await x.add(w.exp()).data(), 'an expression as the argument');
  });

  test('returning inputs, weights and plain values as they are', async () => {
    const [a, w] = await Promise.all([input([5], 8), input([5], 9)]);
    const f = jit((x: Tensor) => ({ same: x, weight: w, sum: x.add(w), n: 42, list: [x.neg()] }));
    for (let i = 0; i < 3; i++) {
      const x = await input([5], 10 + i);
      const r = await f(x);
      expectSameBits(await r.same.data(), await x.data(), 'input through');
      expectSameBits(await r.weight.data(), await w.data(), 'weight through');
      expectSameBits(await r.sum.data(), await x.add(w).data(), 'computed');
      expectSameBits(await r.list[0]!.data(), await x.neg().data(), 'nested');
      expect(r.n).toBe(42);
    }
    void a;
  });

  test('what a capture cannot replay is refused with a clear error', async () => {
    const x = await input([4], 11);
    const reads = jit(async (t: Tensor) => {
      const m = (await t.max().item()) as number;
      return t.div(m);
    });
    await reads(x);
    await expect(reads(x)).rejects.toThrow(/jit: the function read a tensor back .* while being captured/);
    let n = 0;
    const drifts = jit((t: Tensor) => t.mul(variable(++n, { device })));
    await drifts(x);
    await expect(drifts(x)).rejects.toThrow(
      /jit: a variable bound inside the function \(kernel e_mul_4, variable 0\) changed between its first two calls/,
    );
    const uploads = jit((t: Tensor) => t.add(tensor([++n, 0, 0, 0], { device })));
    await uploads(x);
    await expect(uploads(x)).rejects.toThrow(
      /jit: data uploaded inside the function \(4 × f32\) changed between its first two calls/,
    );
    await expect(jit((t: Tensor) => t)(new Map() as never)).rejects.toThrow(
      /jit: cannot pass Map through a jitted function/,
    );
  });

  test(
    'a jitted function called inside another capture runs as code, so the outer capture sees its ' + 'launches',
    async () => {
      const inner = jit((t: Tensor) => t.exp().sum());
      const outer = jit(async (t: Tensor) => t.sub(await inner(t.add(1))));
      for (let i = 0; i < 4; i++) {
        const x = await input([8], 20 + i);
        expectSameBits(await (await outer(x)).data(), await x.sub(x.add(1).exp().sum()).data(), `call ${i}`);
      }
      expect(outer.stats.replays).toBe(2);
      expect(outer.stats.launches).toBe(2); // the inner sum, then the subtraction
      expect(inner.stats.captures).toBe(0);
    },
  );

  test('dispose frees what the captures hold', async () => {
    const before = live();
    const w = await input([64, 64], 12);
    const f = jit((x: Tensor) => x.matmul(w).relu().matmul(w).sum(1));
    for (let i = 0; i < 3; i++) (await f(w)).dispose();
    expect(memory().buffers).toBeGreaterThan(before.buffers + 1);
    f.dispose();
    w.dispose();
    expect(live()).toEqual(before);
  });
});
