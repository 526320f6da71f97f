// Flash attention in CUDA C: one thread per query, keys and values in blocks of 32 staged in shared memory, a
// running max, sum and weighted sum of values (online softmax), so no L × S score matrix is ever stored.
import { type CompositeArgs, type KernelInput, defineKernel, floatBits } from './define.js';

const dims4 = (t: KernelInput): { shape: number[]; strides: number[] } => {
  const pad = 4 - t.shape.length;
  return {
    shape: [...new Array<number>(pad).fill(1), ...t.shape],
    strides: [...new Array<number>(pad).fill(0), ...t.strides],
  };
};

function values({ q, k, v, scale, causal }: CompositeArgs['attention']): number[] {
  const [Q, K, V] = [q, k, v].map(dims4) as [
    ReturnType<typeof dims4>,
    ReturnType<typeof dims4>,
    ReturnType<typeof dims4>,
  ];
  const [B, H, L, E] = Q.shape as [number, number, number, number];
  return [
    B,
    H,
    L,
    K.shape[2]!,
    E,
    V.shape[3]!,
    causal ? 1 : 0,
    floatBits(scale),
    ...Q.strides,
    q.offset,
    ...K.strides,
    k.offset,
    ...V.strides,
    v.offset,
  ];
}

// E and Ev are constants of the program (one per head size): the query and accumulator rows then live in registers
const cuda = (_: unknown, { q, v }: CompositeArgs['attention']): string => `#define HE ${q.shape[q.shape.length - 1]}
#define HV ${v.shape[v.shape.length - 1]}
extern "C" __global__ void __launch_bounds__(64) attention_flash_cuda(float* __restrict__ d0,
    const float* __restrict__ d1, const float* __restrict__ d2, const float* __restrict__ d3,
    const int B, const int H, const int L, const int S, const int E, const int Ev, const int causal,
    const int scaleBits,
    const int qb, const int qh, const int ql, const int qe, const int qo,
    const int kb_, const int kh, const int ks, const int ke, const int ko,
    const int vb_, const int vh, const int vs, const int ve, const int vo) {
  __shared__ float kb[32 * 64];
  __shared__ float vb[32 * 64];
  const float scale = __int_as_float(scaleBits);
  const int b = blockIdx.z, h = blockIdx.y, i = blockIdx.x * 64 + threadIdx.x, iq = min(i, L - 1);
  const float* qrow = d1 + qo + b * qb + h * qh + iq * ql;
  const float* kbase = d2 + ko + b * kb_ + h * kh;
  const float* vbase = d3 + vo + b * vb_ + h * vh;
  float q[HE], acc[HV];
#pragma unroll
  for (int e = 0; e < HE; e++) q[e] = qrow[e * qe];
#pragma unroll
  for (int e = 0; e < HV; e++) acc[e] = 0.0f;
  float m = -3.402823e38f, l = 0.0f;
  for (int j0 = 0; j0 < S; j0 += 32) {
    for (int t = threadIdx.x; t < 2048; t += 64) {
      const int j = min(j0 + t / 64, S - 1), c = t % 64;
      kb[t] = c < E ? kbase[j * ks + c * ke] : 0.0f;
      vb[t] = c < Ev ? vbase[j * vs + c * ve] : 0.0f;
    }
    __syncthreads();
    for (int r = 0; r < 32; r++) {
      const int j = j0 + r;
      if (j < S && (!causal || j <= i)) {
        float s = 0.0f;
#pragma unroll
        for (int e = 0; e < HE; e++) s += q[e] * kb[r * 64 + e];
        s *= scale;
        const float mn = fmaxf(m, s), corr = __expf(m - mn), p = __expf(s - mn);
        l = l * corr + p;
#pragma unroll
        for (int e = 0; e < HV; e++) acc[e] = acc[e] * corr + p * vb[r * 64 + e];
        m = mn;
      }
    }
    __syncthreads();
  }
  if (i < L) {
    float* o = d0 + ((b * H + h) * L + i) * Ev;
#pragma unroll
    for (int e = 0; e < HV; e++) o[e] = acc[e] / l;
  }
}
`;

const batch = (t: KernelInput): string => t.shape.slice(0, -2).join(',');

export default defineKernel({
  name: 'attention_flash_cuda',
  op: 'attention',
  description:
    'CUDA flash attention (f32): one thread per query, keys and values in blocks of 32 through shared memory, ' +
    'online softmax',
  devices: ['cuda'],
  applies: ({ q, k, v }) =>
    [q, k, v].every((t) => t.dtype === 'f32' && t.shape.length >= 2 && t.shape.length <= 4) &&
    batch(q) === batch(k) &&
    batch(k) === batch(v) &&
    q.shape[q.shape.length - 1]! <= 64 &&
    v.shape[v.shape.length - 1]! <= 64,
  cases: [
    {
      name: 'heads of 32 over 70 keys',
      inputs: [
        [2, 4, 50, 32],
        [2, 4, 70, 32],
        [2, 4, 70, 16],
      ],
    },
    {
      name: 'causal',
      inputs: [
        [3, 40, 24],
        [3, 40, 24],
        [3, 40, 24],
      ],
      args: { causal: true },
    },
    {
      name: 'bench: 3072 tokens, 12 heads of 32',
      inputs: [
        [12, 3072, 32],
        [12, 3072, 32],
        [12, 3072, 32],
      ],
    },
  ],
  impl: {
    kind: 'source',
    sources: { cuda },
    values,
    launch: ({ q }) => {
      const Q = dims4(q).shape;
      return { grid: [Math.ceil(Q[2]! / 64), Q[1]!, Q[0]!], block: 64 };
    },
  },
});
