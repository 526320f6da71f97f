// WebGPU limits are respected, never exceeded silently: small artificial limits exercise the paths
// real devices take (8 storage buffers, 128 MiB bindings, 65535 workgroups per dimension).
import { describe, expect, test } from 'vitest';
import { WebGpuBackend, registerDevice, tensor, arange } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { hasWebGpu } from '../backends.js';

describe.skipIf(!hasWebGpu)('webgpu limits', async () => {
  const small = hasWebGpu
    ? await WebGpuBackend.create({ name: 'webgpu-small', limits: { maxBuffers: 4, maxBufferBytes: 1024 } })
    : undefined;
  const grid = hasWebGpu ? await WebGpuBackend.create({ name: 'webgpu-grid2', limits: { maxGrid: 2 } }) : undefined;
  for (const b of [small, grid]) if (b) registerDevice(b);
  const device = 'webgpu-small';

  test('the storage-buffer cap cuts a wide fused kernel', async () => {
    const xs = [1, 2, 3, 4, 5, 6].map((v) => tensor([v, -v], { device }));
    const sum = xs.reduce((a, b) => a.add(b));
    const kernels = plan(sum);
    expect(kernels.length).toBeGreaterThan(1);
    for (const k of kernels) expect(k.params.length).toBeLessThanOrEqual(4);
    expect(await sum.tolist()).toEqual([21, -21]);
  });

  test('a tensor over the binding size is stored in chunks and computed in shards', async () => {
    const values = Float32Array.from({ length: 300 }, (_, i) => i - 150);
    const t = tensor(values, { shape: [3, 100], device });
    expect(Array.from(await t.mul(2).sum(1).data())).toEqual(
      [0, 1, 2].map((r) => values.subarray(100 * r, 100 * r + 100).reduce((a, v) => a + 2 * v, 0)),
    );
  });

  test('a grid past the per-dimension limit folds into y', async () => {
    const n = grid!.caps.workgroupSize * 3 - 10; // 3 workgroups: 2 along x, 2 along y
    const got = Array.from(await arange(n, undefined, 1, { device: 'webgpu-grid2' }).mul(3).data());
    expect(got).toEqual(Array.from({ length: n }, (_, i) => 3 * i));
  });

  test('a grid past limit² is refused with the kernel name', async () => {
    const n = grid!.caps.workgroupSize * 4 + 1; // 5 workgroups > 2 × 2
    await expect(arange(n, undefined, 1, { device: 'webgpu-grid2' }).mul(2).data()).rejects.toThrow(
      new RegExp(`webgpu: e_mul\\w*_${n} needs 5 workgroups, more than 2² the device allows`),
    );
  });
});
