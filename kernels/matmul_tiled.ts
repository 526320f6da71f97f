// A matmul in WGSL with workgroup-memory tiles: each workgroup of 16 × 16 threads computes a 64 × 64 block of the
// output, 4 × 4 per thread, staging 64 × 16 tiles of a and 16 × 64 tiles of b in workgroup memory per step of k.
// Inputs are read through their strides (a transposed weight, a broadcast batch), accumulation is in f32.
import { type CompositeArgs, type DType, type KernelInput, defineKernel, wgslBindings } from './define.js';

/** Batch, row and column strides of an input read as [batch?, rows, cols] (a missing batch dim broadcasts). */
const strides = (t: KernelInput): [number, number, number] => {
  const s = t.strides,
    n = s.length;
  return [n === 3 ? s[0]! : 0, s[n - 2]!, s[n - 1]!];
};

const values = ({ a, b }: CompositeArgs['matmul']): number[] => {
  const [M, K] = a.shape.slice(-2) as [number, number],
    N = b.shape[b.shape.length - 1]!;
  return [M, N, K, ...strides(a), a.offset, ...strides(b), b.offset];
};

const wgsl = (dtype: DType): string => `${wgslBindings(dtype, [dtype, dtype])}
var<workgroup> ta: array<f32, 1024>;
var<workgroup> tb: array<f32, 1024>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = arg(0u); let N = arg(1u); let K = arg(2u);
  let sab = arg(3u); let sam = arg(4u); let sak = arg(5u); let oa = arg(6u);
  let sbb = arg(7u); let sbk = arg(8u); let sbn = arg(9u); let ob = arg(10u);
  let batch = i32(wg.z); let row0 = i32(wg.y) * 64; let col0 = i32(wg.x) * 64;
  let tx = i32(lid.x); let ty = i32(lid.y); let t = ty * 16 + tx;
  var acc: array<f32, 16>;
  for (var k0 = 0; k0 < K; k0 += 16) {
    for (var i = 0; i < 4; i++) {
      let e = t * 4 + i;
      let r = e / 16; let ka = k0 + e % 16; let gr = row0 + r;
      var va = 0.0;
      if (gr < M && ka < K) { va = f32(d1[oa + batch * sab + gr * sam + ka * sak]); }
      ta[e] = va;
      let kb = k0 + e / 64; let gc = col0 + e % 64;
      var vb = 0.0;
      if (gc < N && kb < K) { vb = f32(d2[ob + batch * sbb + kb * sbk + gc * sbn]); }
      tb[e] = vb;
    }
    workgroupBarrier();
    for (var kk = 0; kk < 16; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0; i < 4; i++) { av[i] = ta[(ty * 4 + i) * 16 + kk]; bv[i] = tb[kk * 64 + tx * 4 + i]; }
      for (var i = 0; i < 4; i++) { for (var j = 0; j < 4; j++) { acc[i * 4 + j] += av[i] * bv[j]; } }
    }
    workgroupBarrier();
  }
  for (var i = 0; i < 4; i++) {
    for (var j = 0; j < 4; j++) {
      let r = row0 + ty * 4 + i; let c = col0 + tx * 4 + j;
      if (r < M && c < N) { d0[batch * M * N + r * N + c] = ${dtype}(acc[i * 4 + j]); }
    }
  }
}
`;

export default defineKernel({
  name: 'matmul_tiled',
  op: 'matmul',
  description: 'WGSL matmul, 64 × 64 output tiles staged through workgroup memory, strided inputs, f32 accumulation',
  devices: ['webgpu'],
  applies: ({ a, b }, caps) =>
    a.dtype === b.dtype &&
    (a.dtype === 'f32' || (a.dtype === 'f16' && caps.dtypes.has('f16'))) &&
    [2, 3].includes(a.shape.length) &&
    [2, 3].includes(b.shape.length) &&
    (a.shape.length === 2 || b.shape.length === 2 || a.shape[0] === b.shape[0]) &&
    a.shape[a.shape.length - 2]! >= 16 &&
    b.shape[b.shape.length - 1]! >= 16 &&
    a.shape[a.shape.length - 1]! >= 16,
  cases: [
    {
      name: 'square 128',
      inputs: [
        [128, 128],
        [128, 128],
      ],
    },
    {
      name: 'ragged 70x50 @ 50x33, batch 3',
      inputs: [
        [3, 70, 50],
        [3, 50, 33],
      ],
    },
    {
      name: 'a linear layer: x @ Wᵀ',
      inputs: [
        [48, 96],
        [96, 80],
      ],
      transposed: [1],
    },
    {
      name: 'a broadcast weight',
      inputs: [
        [2, 40, 64],
        [64, 72],
      ],
    },
    {
      name: 'f16',
      inputs: [
        [64, 96],
        [96, 80],
      ],
      dtype: 'f16',
      tol: 5e-3,
    },
    {
      name: 'bench: 512',
      inputs: [
        [512, 512],
        [512, 512],
      ],
    },
  ],
  impl: {
    kind: 'source',
    sources: { wgsl },
    values,
    launch: ({ a, b }) => {
      const M = a.shape[a.shape.length - 2]!,
        N = b.shape[b.shape.length - 1]!,
        batch = a.shape.length === 3 ? a.shape[0]! : b.shape.length === 3 ? b.shape[0]! : 1;
      return { grid: [Math.ceil(N / 64), Math.ceil(M / 64), batch], block: 256 };
    },
  },
});
