// Tensor cores as data: what each CUDA compute capability and a WebGPU adapter's subgroup matrices give, and the
// hand-written tensor-core matmul applying only where the device lists the unit it drives.
import { describe, expect, test } from 'vitest';
import { type Caps, describeTensorCores } from '../../backends/backend.js';
import { CpuBackend } from '../../backends/cpu.js';
import { cudaTensorCores } from '../../codegen/cuda.js';
import { subgroupMatrices } from '../../backends/webgpu.js';
import matmulWmma from '../../kernels/matmul_wmma.js';

describe('tensor cores as capabilities', () => {
  test.each([
    [6, 1, []],
    [7, 0, ['wmma 16x16x16']],
    [7, 5, ['wmma 16x16x16']],
    [8, 6, ['wmma 16x16x16', 'wmma 16x16x16 bf16', 'mma.sync 16x8x16', 'mma.sync 16x8x16 bf16']],
    [9, 0, ['wmma 16x16x16', 'wmma 16x16x16 bf16', 'mma.sync 16x8x16', 'mma.sync 16x8x16 bf16']],
  ])('CUDA sm_%i%i: %j (f16 unless named), f32 out', (major, minor, want) => {
    const tcs = cudaTensorCores(major, minor);
    expect(tcs.map((t) => `${t.api} ${t.m}x${t.n}x${t.k}${t.input === 'bf16' ? ' bf16' : ''}`)).toEqual(want);
    for (const t of tcs) expect(t.acc).toBe('f32');
  });

  test('WebGPU subgroup matrix configurations become tensor cores; types polygrad lacks are left out', () => {
    const info = {
      subgroupMatrixConfigs: [
        { componentType: 'f16', resultComponentType: 'f32', M: 8, N: 8, K: 8 },
        { componentType: 'u8', resultComponentType: 'u32', M: 8, N: 8, K: 32 },
      ],
    };
    expect(subgroupMatrices(info)).toEqual([{ api: 'subgroup-matrix', m: 8, n: 8, k: 8, input: 'f16', acc: 'f32' }]);
    expect(subgroupMatrices({})).toEqual([]);
    expect(describeTensorCores(subgroupMatrices({ ...info, subgroupMaxSize: 64 }))).toBe(
      'subgroup-matrix 8×8×8 f16→f32 (subgroups ≤ 64)',
    );
  });

  test('polygrad devices names each tensor core in a line, or none', () => {
    expect(describeTensorCores(cudaTensorCores(8, 0).slice(0, 3))).toBe(
      'wmma 16×16×16 f16→f32, wmma 16×16×16 bf16→f32, mma.sync 16×8×16 f16→f32',
    );
    expect(describeTensorCores([])).toBe('none');
    expect(describeTensorCores(undefined)).toBe('none');
  });

  test('the WMMA matmul applies only on a device that lists WMMA 16x16x16', () => {
    const base = new CpuBackend().caps;
    const on = (tensorCores: Caps['tensorCores']): Caps => ({ ...base, tensorCores });
    const f16 = { a: { shape: [64, 32], dtype: 'f16' }, b: { shape: [32, 48], dtype: 'f16' } } as const;
    const f32 = { a: { ...f16.a, dtype: 'f32' }, b: { ...f16.b, dtype: 'f32' } } as const;
    expect(matmulWmma.applies(f16 as never, on(cudaTensorCores(8, 0)))).toBe(true);
    expect(matmulWmma.applies(f16 as never, on(cudaTensorCores(6, 1)))).toBe(false);
    expect(matmulWmma.applies(f16 as never, on(undefined))).toBe(false);
    expect(matmulWmma.applies(f32 as never, on(cudaTensorCores(9, 0)))).toBe(false);
  });
});
