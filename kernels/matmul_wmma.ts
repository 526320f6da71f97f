// A matmul on NVIDIA tensor cores (WMMA, f16 or bf16 in, f32 accumulate): a block of four warps computes a 32 × 32
// output tile, each warp a 16 × 16 fragment, from 32 × 16 and 16 × 32 tiles of a and b staged through shared memory
// (zero past the edges, so any shape works); inputs are read through their strides.
import { type CompositeArgs, type DType, defineKernel } from './define.js';

const values = ({ a, b }: CompositeArgs['matmul']): number[] => {
  const s = (t: typeof a): number[] => [
    t.strides.length === 3 ? t.strides[0]! : 0,
    t.strides[t.strides.length - 2]!,
    t.strides[t.strides.length - 1]!,
    t.offset,
  ];
  return [a.shape[a.shape.length - 2]!, b.shape[b.shape.length - 1]!, a.shape[a.shape.length - 1]!, ...s(a), ...s(b)];
};

/** The CUDA type of a 16-bit float dtype, its header and its conversion from float. */
const halfOf = (d: DType) =>
  d === 'bf16'
    ? { T: '__nv_bfloat16', header: 'cuda_bf16.h', fromFloat: '__float2bfloat16' }
    : { T: 'half', header: 'cuda_fp16.h', fromFloat: '__float2half' };

const cuda = (dtype: DType): string => {
  const { T, header, fromFloat } = halfOf(dtype);
  return `#include <${header}>
#include <mma.h>
using namespace nvcuda;
extern "C" __global__ void __launch_bounds__(128) matmul_wmma(${T}* __restrict__ d0, const ${T}* __restrict__ d1,
    const ${T}* __restrict__ d2,
    const int M, const int N, const int K, const int sab, const int sam, const int sak, const int oa,
    const int sbb, const int sbk, const int sbn, const int ob) {
  __shared__ __align__(32) ${T} sA[32 * 16];
  __shared__ __align__(32) ${T} sB[16 * 32];
  __shared__ __align__(32) float sC[32 * 32];
  const int batch = blockIdx.z, row0 = blockIdx.y * 32, col0 = blockIdx.x * 32, t = threadIdx.x, warp = t / 32;
  const int wr = warp / 2, wc = warp % 2;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
  wmma::fill_fragment(acc, 0.0f);
  for (int k0 = 0; k0 < K; k0 += 16) {
    for (int e = t; e < 512; e += 128) {
      const int r = e / 16, ka = k0 + e % 16, gr = row0 + r;
      sA[e] = (gr < M && ka < K) ? d1[oa + batch * sab + gr * sam + ka * sak] : ${fromFloat}(0.0f);
      const int kb = k0 + e / 32, gc = col0 + e % 32;
      sB[e] = (gc < N && kb < K) ? d2[ob + batch * sbb + kb * sbk + gc * sbn] : ${fromFloat}(0.0f);
    }
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, ${T}, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, ${T}, wmma::row_major> fb;
    wmma::load_matrix_sync(fa, sA + wr * 16 * 16, 16);
    wmma::load_matrix_sync(fb, sB + wc * 16, 32);
    wmma::mma_sync(acc, fa, fb, acc);
    __syncthreads();
  }
  wmma::store_matrix_sync(sC + wr * 16 * 32 + wc * 16, acc, 32, wmma::mem_row_major);
  __syncthreads();
  for (int e = t; e < 1024; e += 128) {
    const int r = row0 + e / 32, c = col0 + e % 32;
    if (r < M && c < N) d0[(batch * M + r) * N + c] = ${fromFloat}(sC[e]);
  }
}
`;
};

export default defineKernel({
  name: 'matmul_wmma',
  op: 'matmul',
  description:
    'CUDA tensor-core matmul (WMMA 16x16x16, f16 or bf16 in, f32 accumulate), 32 × 32 tiles per block of four warps',
  devices: ['cuda'],
  applies: ({ a, b }, caps) =>
    (a.dtype === 'f16' || a.dtype === 'bf16') &&
    b.dtype === a.dtype &&
    !!caps.tensorCores?.some(
      (t) => t.api === 'wmma' && t.m === 16 && t.n === 16 && t.k === 16 && t.input === a.dtype,
    ) &&
    [2, 3].includes(a.shape.length) &&
    [2, 3].includes(b.shape.length) &&
    (a.shape.length === 2 || b.shape.length === 2 || a.shape[0] === b.shape[0]),
  cases: [
    {
      name: 'square 128',
      inputs: [
        [128, 128],
        [128, 128],
      ],
      dtype: 'f16',
      tol: 5e-3,
    },
    {
      name: 'ragged 70x50 @ 50x33, batch 3',
      inputs: [
        [3, 70, 50],
        [3, 50, 33],
      ],
      dtype: 'f16',
      tol: 5e-3,
    },
    {
      name: 'bf16 ragged 70x50 @ 50x33, batch 3',
      inputs: [
        [3, 70, 50],
        [3, 50, 33],
      ],
      dtype: 'bf16',
      tol: 3e-2,
    },
    {
      name: 'a linear layer: x @ Wᵀ',
      inputs: [
        [48, 96],
        [96, 80],
      ],
      transposed: [1],
      dtype: 'f16',
      tol: 5e-3,
    },
    {
      name: 'bench: 4096',
      inputs: [
        [4096, 4096],
        [4096, 4096],
      ],
      dtype: 'f16',
      tol: 2e-2,
    },
  ],
  impl: {
    kind: 'source',
    sources: { cuda },
    values,
    launch: ({ a, b }) => ({
      grid: [
        Math.ceil(b.shape[b.shape.length - 1]! / 32),
        Math.ceil(a.shape[a.shape.length - 2]! / 32),
        Math.max(a.shape.length === 3 ? a.shape[0]! : 1, b.shape.length === 3 ? b.shape[0]! : 1),
      ],
      block: 128,
    }),
  },
});
