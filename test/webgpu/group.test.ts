// GROUP on WebGPU: a full reduce runs on one workgroup whose lanes stride the input; sizes that are not a
// multiple of the lane count (or shorter than it) must still match the float64 reference.
import { describe, expect, test } from 'vitest';
import { tensor } from '../../index.js';
import { hasWebGpu } from '../backends.js';

describe.skipIf(!hasWebGpu)('webgpu GROUP', () => {
  test.each([1, 63, 65, 4097, 100_003])('sum and max of %i values', async (n) => {
    const v = Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37) + (i === n >> 1 ? 3 : 0));
    let sum = 0,
      max = -Infinity;
    for (const x of v) {
      sum += x;
      max = Math.max(max, x);
    }
    const x = tensor(v, { device: 'webgpu' });
    const [s, m] = [await x.sum().data(), await x.max().data()];
    expect(Math.abs(s[0]! - sum)).toBeLessThan(1e-4 * (1 + Math.abs(sum)) + 1e-6 * n);
    expect(m[0]).toBe(Math.fround(max));
  });
});
