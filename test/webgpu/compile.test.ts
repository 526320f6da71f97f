// A WGSL compile error names the kernel, the line and shows the numbered source.
import { describe, expect, test } from 'vitest';
import { getDevice } from '../../index.js';
import type { Kernel } from '../../codegen/kernel.js';
import { hasWebGpu } from '../backends.js';

describe.skipIf(!hasWebGpu)('webgpu compile errors', () => {
  test('a broken shader reports kernel, line and source', async () => {
    const gpu = getDevice('webgpu');
    const kernel: Kernel = {
      name: 'e_broken_4',
      shape: [4],
      params: [{ dtype: 'f32', numel: 4, write: true }],
      stores: [],
    };
    const source =
      '@group(0) @binding(0) var<storage, read_write> d0: array<f32>;\n@compute @workgroup_size(1) fn main() {\n  ' +
      'd0[0] = undefined_name;\n}';
    await expect(gpu.compile(kernel, { source, checks: false })).rejects.toThrow(
      /e_broken_4 failed to compile:\n {2}line 3:\d+: .*undefined_name[\s\S]* {3}3\| {3}d0\[0\] = undefined_name;/,
    );
  });

  test('a failed compile leaves no error behind for the next, unrelated kernels', async () => {
    const gpu = getDevice('webgpu');
    const bad: Kernel = { name: 'e_bad_1', shape: [1], params: [{ dtype: 'f32', numel: 1, write: true }], stores: [] };
    const source = '@compute @workgroup_size(1) fn main() { let x: f32 = true; }';
    await expect(gpu.compile(bad, { source, checks: false })).rejects.toThrow('e_bad_1 failed to compile');
    const { tensor } = await import('../../index.js');
    expect(await tensor([1, 2], { device: 'webgpu' }).add(1).tolist()).toEqual([2, 3]);
    expect(
      await tensor([true, false], { device: 'webgpu' })
        .lt(tensor([true, true], { device: 'webgpu' }))
        .tolist(),
    ).toEqual([false, true]);
  });
});
