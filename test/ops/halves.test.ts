// f16 and bf16 tensors: the op suite's elementwise, reduction and nn cases with 16-bit float inputs, on every backend
// whose device has the dtype. As in PyTorch, inputs are rounded to the dtype, ops compute in f32 and every op result
// is rounded again; the tolerance is the dtype's (an ulp at 1 is 2^-10 for f16, 2^-7 for bf16, whose rounding of
// f32 values is the only difference here: the same 8 exponent bits as f32, so no overflow before 3.4e38).
import { describe, expect, test } from 'vitest';
import { getDevice, profile, tensor, zeros } from '../../index.js';
import { backends } from '../backends.js';
import { cases } from './cases.js';
import { rng, uniform } from './nd.js';
import { bf16Round, f16Round } from '../fuzz/program.js';

const halfCases = new RegExp(
  '^(exp \\[3|tanh \\[3|sigmoid \\[3|silu \\[3|add|mul|div|max min|mean|softmax|matmul 2d|conv2d pad|groupNorm|' +
    'layerNorm|attention \\(|lstm)',
);
const picked = cases.filter((c) => halfCases.test(c.name) && !c.inputs.some((s) => s.values || s.int));

const halves = [
  { dtype: 'f16', round: f16Round, tol: 5e-3 },
  { dtype: 'bf16', round: bf16Round, tol: 3e-2 },
] as const;
const runs = backends.flatMap((device) =>
  halves.filter((h) => getDevice(device).caps.dtypes.has(h.dtype)).map((h) => ({ device, ...h })),
);

describe.each(runs)('$dtype on $device', ({ device, dtype, round, tol }) => {
  const half = (v: ArrayLike<number>, shape: readonly number[]) =>
    tensor(Float32Array.from(v), { shape: [...shape], device, dtype });
  test.each(picked.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const xs = c.inputs.map((s, i) => {
      const u = uniform(s.shape, 1000 * i + c.name.length, s.lo ?? -2, s.hi ?? 2);
      return { shape: u.shape, data: u.data.map((v) => round(Math.fround(v))) };
    });
    const out = c.run(...xs.map((x) => half(x.data, x.shape)));
    expect(out.dtype).toBe(dtype);
    const got = await out.data(),
      want = c.ref(...xs);
    want.data.forEach((w, i) =>
      expect(Math.abs(got[i]! - w), `${c.name} [${i}] got ${got[i]} want ${w}`).toBeLessThanOrEqual(
        tol + tol * Math.abs(w),
      ),
    );
  });
  test('pools, norms and softmax run in f32: sums and variances past the dtype do not overflow or stall', async () => {
    const big = round(60000);
    expect(await half([big, big, big, big], [1, 1, 2, 2]).avgPool2d(2).tolist()).toEqual([[[[big]]]]);
    const ln = await half([300, -300, 300, -300], [1, 4]).layerNorm([4]).data();
    const gn = await half([300, -300, 300, -300], [1, 4, 1]).groupNorm(1).data();
    for (const got of [ln, gn]) Array.from(got).forEach((v, i) => expect(v).toBeCloseTo(i % 2 ? -1 : 1, 2));
    // a half sum of 70000 values of 1/70000 would stop growing long before 1 (bf16 at 2^-8)
    const sm = await zeros([70000], { device, dtype }).softmax(0).data();
    expect(Math.abs(sm[123]! - round(1 / 70000))).toBeLessThan(1e-7);
  });
  test('mean and var of a long row: its sum would overflow f16 and stall bf16, so statistics run in f32', async () => {
    const x = uniform([100000], 7, 200, 300).data.map((v) => round(Math.fround(v)));
    const t = half(x, [x.length]);
    const mean = x.reduce((a, b) => a + b, 0) / x.length,
      v = x.reduce((a, b) => a + (b - mean) ** 2, 0) / (x.length - 1);
    const [m, s] = [await t.mean().data(), await t.var().data()];
    expect(t.mean().dtype).toBe(dtype);
    expect(Math.abs(m[0]! - mean)).toBeLessThanOrEqual(tol * mean);
    expect(Math.abs(s[0]! - v)).toBeLessThanOrEqual(tol * v);
  });
});

/** Values that probe a cast's rounding: ties both ways, subnormals, the largest finite value and past it. */
const probes = {
  f16: [1 + 2 ** -11, 1 + 3 * 2 ** -11, 2 ** -25, 3 * 2 ** -25, 2 ** -14 - 2 ** -26, 65504, 65519, 65520, 1e6],
  // f32 subnormals are left out: GPUs may flush them (WGSL and CUDA's default allow it)
  bf16: [1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, 2 ** -126, 3.3895e38, 3.3961e38, 3.4e38, 65504],
};
const exponents = { f16: [-27, 18], bf16: [-120, 127] };

test.each(runs)(
  "$dtype on $device: a kernel's profiled bytes are its buffers' as the device stores them",
  async (r) => {
    const x = tensor(Float32Array.from(uniform([1000], 7).data), { device: r.device, dtype: r.dtype });
    await x.realize();
    const { events } = await profile(() => x.mul(3).realize());
    // WebGPU keeps bf16 in f32 (caps.storage): 4 bytes an element there, 2 elsewhere; an input and an output
    const stored = getDevice(r.device).caps.storage[r.dtype] ?? r.dtype;
    expect(events.map((e) => e.bytes)).toEqual([2 * 1000 * (stored === 'f32' ? 4 : 2)]);
  },
);

describe.each(runs)('f32 → $dtype casts on $device', ({ device, dtype, round }) => {
  test('a cast to the dtype and back inside one kernel rounds: nearest even, smallest values, overflow', async () => {
    const r = rng(5),
      [lo, hi] = exponents[dtype];
    const special = [...probes[dtype], -0, -1e-30, Infinity, -Infinity];
    const random = Array.from({ length: 4000 }, () => (r() < 0.5 ? -1 : 1) * 2 ** (lo + (hi - lo) * r()));
    const x = Float32Array.from([...special, ...random]);
    const got = await tensor(x, { device }).mul(1).cast(dtype).cast('f32').data();
    const bad = Array.from(x).flatMap((v, i) => {
      const want = dtype === 'bf16' && Math.abs(v) < 2 ** -126 ? [round(v), 0] : [round(v)]; // -1e-30: flushed or not
      return want.some((w) => Object.is(got[i], w) || (w === 0 && got[i] === 0))
        ? []
        : [`${v} -> ${got[i]} (want ${want[0]})`];
    });
    expect(bad.slice(0, 5)).toEqual([]);
    expect(Number.isNaN((await tensor([NaN], { device }).mul(1).cast(dtype).cast('f32').data())[0])).toBe(true);
    // NaNs with other payloads, uploaded as raw bits: rounding must not carry them into inf or -0
    const nans = new Float32Array(new Uint32Array([0x7fffffff, 0x7f800001, 0xffc00001, 0xff80ffff]).buffer);
    const back = await tensor(nans, { device }).cast(dtype).cast('f32').data();
    expect(Array.from(back, Number.isNaN)).toEqual([true, true, true, true]);
  });
});

test('f16 with bf16 promotes to f32 (as PyTorch): each rounded to its own dtype, the sum exact in f32', async () => {
  const x = 1 + 2 ** -9; // f16 keeps it, bf16 rounds it to 1 (a tie, to even)
  const s = tensor([x], { dtype: 'f16' }).add(tensor([x], { dtype: 'bf16' }));
  expect(s.dtype).toBe('f32');
  expect(await s.tolist()).toEqual([f16Round(x) + bf16Round(x)]);
  expect(f16Round(x) + bf16Round(x)).toBe(2 + 2 ** -9);
});
