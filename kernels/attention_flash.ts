// Attention in WGSL without the L × S score matrix in memory (flash attention): each thread owns one query, walks
// the keys in blocks of 32 staged in workgroup memory with their values, and keeps a running max, sum and weighted
// sum of values (online softmax). Queries, keys and values are read through their strides ([B, H, L, E] views).
import { type CompositeArgs, type DType, type KernelInput, defineKernel, floatBits, wgslBindings } from './define.js';

/** Sizes and strides of a [..., rows, cols] input padded in front to [B, H, rows, cols]. */
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

const wgsl = (dtype: DType): string => `${wgslBindings(dtype, [dtype, dtype, dtype])}
var<workgroup> kb: array<f32, 2048>;
var<workgroup> vb: array<f32, 2048>;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let H = arg(1u); let L = arg(2u); let S = arg(3u); let E = arg(4u); let Ev = arg(5u);
  let causal = arg(6u); let scale = argf(7u);
  let b = i32(wg.z); let h = i32(wg.y); let i = i32(wg.x) * 64 + i32(lid); let iq = min(i, L - 1);
  let qb = arg(12u) + b * arg(8u) + h * arg(9u) + iq * arg(10u);
  let kbase = arg(17u) + b * arg(13u) + h * arg(14u);
  let vbase = arg(22u) + b * arg(18u) + h * arg(19u);
  var q: array<f32, 64>;
  var acc: array<f32, 64>;
  for (var e = 0; e < E; e++) { q[e] = f32(d1[qb + e * arg(11u)]); }
  var m = -3.402823e38;
  var l = 0.0;
  for (var j0 = 0; j0 < S; j0 += 32) {
    for (var t = i32(lid); t < 2048; t += 64) {
      let j = min(j0 + t / 64, S - 1); let c = t % 64;
      kb[t] = select(0.0, f32(d2[kbase + j * arg(15u) + min(c, E - 1) * arg(16u)]), c < E);
      vb[t] = select(0.0, f32(d3[vbase + j * arg(20u) + min(c, Ev - 1) * arg(21u)]), c < Ev);
    }
    workgroupBarrier();
    for (var r = 0; r < 32; r++) {
      let j = j0 + r;
      if (j < S && (causal == 0 || j <= i)) {
        var s = 0.0;
        for (var e = 0; e < E; e++) { s += q[e] * kb[r * 64 + e]; }
        s = s * scale;
        let mn = max(m, s); let corr = exp(m - mn); let p = exp(s - mn);
        l = l * corr + p;
        for (var e = 0; e < Ev; e++) { acc[e] = acc[e] * corr + p * vb[r * 64 + e]; }
        m = mn;
      }
    }
    workgroupBarrier();
  }
  if (i < L) {
    let o = ((b * H + h) * L + i) * Ev;
    for (var e = 0; e < Ev; e++) { d0[o + e] = ${dtype}(acc[e] / l); }
  }
}
`;

const batch = (t: KernelInput): string => t.shape.slice(0, -2).join(',');

export default defineKernel({
  name: 'attention_flash',
  op: 'attention',
  description:
    'WGSL flash attention: one thread per query, keys and values in blocks of 32 through workgroup memory, online ' +
    'softmax',
  devices: ['webgpu'],
  applies: ({ q, k, v }) =>
    [q, k, v].every((t) => t.dtype === q.dtype && t.shape.length >= 2 && t.shape.length <= 4) &&
    (q.dtype === 'f32' || q.dtype === 'f16') &&
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
      name: 'one query (a recurrent step), keys read transposed',
      inputs: [
        [8, 1, 64],
        [8, 300, 64],
        [8, 300, 64],
      ],
      transposed: [1],
    },
    {
      name: 'a scale',
      inputs: [
        [2, 65, 8],
        [2, 33, 8],
        [2, 33, 8],
      ],
      args: { scale: 0.3 },
    },
    {
      name: 'bench: 768 tokens, 12 heads of 32',
      inputs: [
        [12, 768, 32],
        [12, 768, 32],
        [12, 768, 32],
      ],
    },
  ],
  impl: {
    kind: 'source',
    sources: { wgsl },
    values,
    launch: ({ q }) => {
      const Q = dims4(q).shape;
      return { grid: [Math.ceil(Q[2]! / 64), Q[1]!, Q[0]!], block: 64 };
    },
  },
});
