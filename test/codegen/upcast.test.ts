// UPCAST/UNROLL by loads per output: a conv upcasts output channels × rows × columns and unrolls its 3×3 taps (their
// windows overlap, so neighbouring pixels share input loads), a matmul takes an 8×4 register tile; sizes the tile
// does not divide fall back to amounts that do; elementwise GPU kernels compute 4 adjacent outputs a thread; every
// choice matches the float64 references.
import { describe, expect, test } from 'vitest';
import { type Tensor, tensor } from '../../index.js';
import type { Kernel } from '../../codegen/kernel.js';
import { optimize } from '../../codegen/heuristic.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';
import { compileAll, nvccAvailable } from '../cuda/nvcc.js';
import { type Nd, uniform } from '../ops/nd.js';
import * as R from '../ops/ref.js';

const gpu = { globalsAsLoops: false, workgroupSize: 256, threads: 65536 },
  cpu = { globalsAsLoops: true, workgroupSize: 1, threads: 1 };
const only = (t: Tensor): Kernel => {
  const ks = plan(t);
  expect(ks).toHaveLength(1);
  return ks[0]!;
};
const actions = (k: Kernel, caps = gpu): string[] =>
  (optimize(k, caps).opts ?? []).map((o) => `${o.op}(${o.axis}, ${o.amount})`);
const nd = (shape: number[], seed: number): Nd => uniform(shape, seed);
const put = (x: Nd, device?: string): Tensor => tensor(Float32Array.from(x.data), { shape: [...x.shape], device });

const conv = (c: number, h: number, w: number, o = c) => ({
  x: nd([1, c, h, w], 1),
  w: nd([o, c, 3, 3], 2),
  b: nd([o], 3),
});
const convOf = (a: ReturnType<typeof conv>, device?: string): Tensor =>
  put(a.x, device).conv2d(put(a.w, device), put(a.b, device), { padding: 1 });

describe('UPCAST and UNROLL', () => {
  test(
    'a 3x3 conv upcasts width 4, height 4, channels 2 and unrolls both taps (axes: 1 channel, 2 row, 3 column; ' +
      'ranges 5, 6 the taps)',
    () => {
      const k = only(convOf(conv(64, 48, 64)));
      const want = ['UPCAST(3, 4)', 'UPCAST(2, 4)', 'UPCAST(1, 2)', 'UNROLL(5, 3)', 'UNROLL(6, 3)'];
      expect(actions(k)).toEqual(want);
      expect(actions(k, cpu)).toEqual(want);
    },
  );
  test('a matmul takes an 8x4 register tile (8 columns, the contiguous axis)', () => {
    expect(actions(only(put(nd([512, 512], 1)).matmul(put(nd([512, 512], 2)))))).toEqual([
      'UPCAST(1, 8)',
      'UPCAST(0, 4)',
    ]);
  });
  test('an odd height leaves the rows alone: 8 columns x 4 channels share the loads instead', () => {
    expect(actions(only(convOf(conv(64, 49, 64))))).toEqual(['UPCAST(3, 8)', 'UPCAST(1, 4)', 'UNROLL(6, 3)']);
  });
  test('no axis divisible by 2: no upcast', () => {
    expect(
      actions(only(put(nd([257, 33], 1)).matmul(put(nd([33, 259], 2))))).filter((a) => a.startsWith('UPCAST')),
    ).toEqual([]);
  });
  test('an elementwise GPU kernel computes 4 adjacent outputs a thread (adjacentOutputs); not on the CPU', () => {
    const ew = only(
      put(nd([64, 1024], 1))
        .exp()
        .mul(2),
    );
    expect(actions(ew)).toEqual(['UPCAST(1, 4)']);
    expect(actions(ew, cpu)).toEqual([]);
    // too few outputs to keep minThreads (4096) threads; an innermost axis 4 does not divide; a reduce
    expect(actions(only(put(nd([64, 128], 1)).exp()))).toEqual([]);
    expect(actions(only(put(nd([1024, 63], 1)).exp()))).toEqual([]);
    expect(actions(only(put(nd([1024, 64], 1)).sum(1)))).not.toContain('UPCAST(0, 4)');
  });
  test.skipIf(!nvccAvailable())(
    'unrolled and upcast kernels compile for sm_90',
    () => {
      const ks = [
        only(convOf(conv(64, 48, 64))),
        only(convOf(conv(64, 49, 64))),
        only(put(nd([512, 512], 1)).matmul(put(nd([512, 512], 2)))),
      ];
      expect(compileAll(ks.map((k) => optimize(k, gpu)))).toHaveLength(3);
    },
    60_000,
  );
});

describe.each(backends)('upcast kernels on %s match float64', (device) => {
  const close = async (t: Tensor, want: Nd): Promise<void> => {
    const got = await t.data();
    let bad = 0;
    want.data.forEach((w, i) => {
      if (!(Math.abs(got[i]! - w) <= 1e-4 + 1e-4 * Math.abs(w))) bad++;
    });
    expect(bad).toBe(0);
  };
  // big enough (≥ 65536 outputs) that the GPU upcasts too; 50 and 66 take only 2, 40 channels up to 8
  test.each([
    [5, 50, 66, 40],
    [3, 49, 64, 64],
    [8, 48, 64, 24],
  ])('conv2d 3x3 pad 1, %i channels in, %ix%i, %i out', async (c, h, w, o) => {
    const a = conv(c, h, w, o);
    await close(convOf(a, device), R.conv2d(a.x, a.w, a.b, 1, 1));
  });
  test('elementwise kernels, 4 adjacent outputs a thread: contiguous, transposed and broadcast inputs', async () => {
    const a = nd([96, 256], 8),
      b = nd([256, 96], 9),
      c = nd([256], 10);
    const bt = { shape: [96, 256], data: a.data.map((_, i) => b.data[(i % 256) * 96 + Math.floor(i / 256)]!) };
    const want = a.data.map((v, i) => Math.exp(v) * bt.data[i]! + c.data[i % 256]!);
    const got = put(a, device).exp().mul(put(b, device).transpose(0, 1)).add(put(c, device));
    await close(got, { shape: [96, 256], data: want });
  });
  test('conv2d stride 2 dilation 2 unrolls taps that do not overlap', async () => {
    const x = nd([1, 4, 130, 132], 4),
      w = nd([32, 4, 3, 3], 5);
    await close(
      put(x, device).conv2d(put(w, device), undefined, { stride: 2, padding: 2, dilation: 2 }),
      R.conv2d(x, w, undefined, 2, 2, 2),
    );
  });
  test.each([
    [130, 70, 516],
    [257, 33, 259],
    [256, 64, 256],
  ])('matmul %ix%i @ %ix…', async (m, k, n) => {
    const a = nd([m, k], 6),
      b = nd([k, n], 7);
    await close(put(a, device).matmul(put(b, device)), R.matmul(a, b));
  });
});
