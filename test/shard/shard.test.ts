// Tensors larger than one device buffer: stored in chunks of whole rows, every kernel touching them split into
// shards that bind within the device's limits. Results agree with a float64 reference on every backend, a jitted
// step replays them bit for bit, and memory is counted as the tensor's size.
import { describe, expect, test } from 'vitest';
import {
  CpuBackend,
  type Tensor,
  WebGpuBackend,
  jit,
  memory,
  randn,
  registerDevice,
  tensor,
  variable,
} from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { hasWebGpu } from '../backends.js';

// 1 KiB buffers (256 f32), 8 bindings a kernel
registerDevice(new CpuBackend('cpu-1k', { maxBufferBytes: 1024, maxBuffers: 8 }));
if (hasWebGpu)
  registerDevice((await WebGpuBackend.create({ name: 'webgpu-1k', limits: { maxBufferBytes: 1024, maxBuffers: 8 } }))!);
const devices = ['cpu-1k', ...(hasWebGpu ? ['webgpu-1k'] : [])];

/** A seeded tensor on `device` and its values in float64. */
async function input(shape: number[], seed: number, device: string): Promise<[Tensor, Float64Array]> {
  const t = await randn(shape, { seed, device: 'cpu' }).realize();
  const v = Float64Array.from(await t.data());
  return [tensor(Float32Array.from(v), { shape, device }), v];
}
const close = (got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-4): void => {
  expect(got.length, what).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++)
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!)));
  expect(worst, what).toBeLessThan(tol);
};

describe.each(devices)('chunked tensors on %s', (device) => {
  test('a linear layer whose weight is 47 buffers: shards along the output rows, one chunk each', async () => {
    const [x, xv] = await input([1, 200], 1, device),
      [w, wv] = await input([60, 200], 2, device),
      [b, bv] = await input([60], 3, device);
    expect((w.numel * 4) / 1024).toBeGreaterThan(46);
    const y = x.linear(w, b).relu();
    const want = Array.from({ length: 60 }, (_, j) =>
      Math.max(0, bv[j]! + xv.reduce((a, v, k) => a + v * wv[j * 200 + k]!, 0)),
    );
    close(await y.data(), want, 'relu(x Wᵀ + b)');
  });

  test('chunked activations through conv2d + groupNorm + silu, written in chunks', async () => {
    const [x, xv] = await input([1, 4, 12, 12], 4, device),
      [w, wv] = await input([6, 4, 3, 3], 5, device);
    const y = x.conv2d(w, undefined, { padding: 1 });
    const want = new Float64Array(6 * 144);
    for (let o = 0; o < 6; o++)
      for (let i = 0; i < 12; i++)
        for (let j = 0; j < 12; j++) {
          let acc = 0;
          for (let c = 0; c < 4; c++)
            for (let di = 0; di < 3; di++)
              for (let dj = 0; dj < 3; dj++) {
                const yi = i + di - 1,
                  xj = j + dj - 1;
                if (yi >= 0 && yi < 12 && xj >= 0 && xj < 12)
                  acc += xv[c * 144 + yi * 12 + xj]! * wv[((o * 4 + c) * 3 + di) * 3 + dj]!;
              }
          want[o * 144 + i * 12 + j] = acc;
        }
    close(await y.data(), want, 'conv2d');
    const gn = await y.groupNorm(2).silu().data();
    for (let g = 0; g < 2; g++) {
      const part = want.subarray(g * 432, (g + 1) * 432),
        mean = part.reduce((a, v) => a + v, 0) / 432;
      const rstd = 1 / Math.sqrt(part.reduce((a, v) => a + (v - mean) ** 2, 0) / 432 + 1e-5);
      close(
        gn.subarray(g * 432, (g + 1) * 432),
        Array.from(part, (v) => {
          const n = (v - mean) * rstd;
          return n / (1 + Math.exp(-n));
        }),
        `group ${g}`,
      );
    }
  });

  test('values round-trip through the chunks, and memory counts the tensor', async () => {
    const before = memory();
    const values = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
    const t = tensor(values, { shape: [10, 100], device });
    expect(memory().bytes - before.bytes).toBe(4000);
    expect(Array.from(await t.data())).toEqual(Array.from(values));
    expect(Array.from(await t.T.contiguous().reshape([1000]).data())).toEqual(
      Array.from({ length: 1000 }, (_, i) => values[(i % 10) * 100 + Math.floor(i / 10)]!),
    );
    t.dispose();
  });

  test('a jitted step over chunked tensors replays the bits of running it', async () => {
    const [w] = await input([40, 64], 6, device),
      [v] = await input([30, 40], 7, device);
    const step = (x: Tensor, s: Tensor | number) => x.linear(w).mul(s).softmax(-1).linear(v).sum(0, true);
    const f = jit((x: Tensor, s: Tensor) => step(x, s));
    for (let i = 0; i < 4; i++) {
      const [x] = await input([8, 64], 10 + i, device);
      const got = await (await f(x, variable(1 + i / 4, { device }))).data(),
        want = await step(x, 1 + i / 4).data();
      expect(Array.from(got), `call ${i}`).toEqual(Array.from(want));
    }
    expect(f.stats.replays).toBe(2);
  });

  test('every launch binds within the limits', async () => {
    const [x] = await input([1, 200], 1, device),
      [w] = await input([60, 200], 2, device);
    expect(plan(x.linear(w)).length).toBe(1); // one kernel, sharded when it runs
    await x.linear(w).data();
  });
});

test('a reduction whose one output spans more chunks than a kernel binds is a clear error', async () => {
  const big = await randn([4096], { seed: 7, device: 'cpu-1k' }).realize();
  await expect(big.sum().data()).rejects.toThrow(
    /one output element binds \d+ buffers, more than the 8 the device allows \(its inputs are stored in chunks\)/,
  );
});

test('a failed allocation frees what the run allocated and says what it needed', async () => {
  /** A device with 64 KiB of memory. */
  class Small extends CpuBackend {
    used = 0;
    override alloc(bytes: number) {
      if (this.used + bytes > 65536) throw new Error(`out of memory (${this.used} of 65536 bytes in use)`);
      this.used += bytes;
      return super.alloc(bytes);
    }
    override free(b: { bytes: number }) {
      this.used -= b.bytes;
    }
  }
  registerDevice(new Small('cpu-64k-memory'));
  const device = 'cpu-64k-memory';
  const x = tensor(
    Float32Array.from({ length: 4096 }, (_, i) => i),
    { shape: [64, 64], device },
  );
  const before = memory();
  // the output (16 KiB) fits beside the input, the 48 KiB intermediate after it does not
  const z = x.reshape([1, 64, 64]).expand([3, 64, 64]).exp().contiguous().sum(0);
  await expect(z.data()).rejects.toThrow(
    new RegExp(
      '^alloc: \\d+ × f32 \\(\\d+ bytes\\) failed on cpu-64k-memory with \\d+ bytes already allocated by ' +
        'polygrad: out of memory',
    ),
  );
  expect(memory().bytes).toBe(before.bytes);
});
