// conv2d in WGSL as an implicit GEMM: the output [Co, OH·OW] of each image is a matmul of the weight [Co, C·kh·kw]
// with the input's windows [C·kh·kw, OH·OW], which are never written out: each 16 × 64 tile of them is gathered from
// the input (zero outside it) into workgroup memory, beside a 64 × 16 tile of the weight. 64 × 64 outputs per
// workgroup, 4 × 4 per thread, f32 accumulation, the bias added once at the end.
import { type CompositeArgs, type DType, defineKernel, wgslBindings } from './define.js';

const geometry = ({ x, w, stride, padding }: CompositeArgs['conv2d']) => {
  const [, C, H, W] = x.shape as [number, number, number, number],
    [Co, , kh, kw] = w.shape as [number, number, number, number];
  const OH = Math.floor((H + 2 * padding[0] - kh) / stride[0]) + 1,
    OW = Math.floor((W + 2 * padding[1] - kw) / stride[1]) + 1;
  return { C, H, W, Co, kh, kw, OH, OW };
};

function values(args: CompositeArgs['conv2d']): number[] {
  const { x, w, bias, stride, padding } = args,
    g = geometry(args);
  return [
    g.Co,
    g.OH * g.OW,
    g.C * g.kh * g.kw,
    g.H,
    g.W,
    g.kh,
    g.kw,
    g.OW,
    stride[0],
    stride[1],
    padding[0],
    padding[1],
    ...x.strides,
    x.offset,
    ...w.strides,
    w.offset,
    bias?.strides[0] ?? 0,
    bias?.offset ?? 0,
  ];
}

const wgsl = (
  dtype: DType,
  { bias }: CompositeArgs['conv2d'],
): string => `${wgslBindings(dtype, bias ? [dtype, dtype, dtype] : [dtype, dtype])}
var<workgroup> ta: array<f32, 1024>;
var<workgroup> tb: array<f32, 1024>;
@compute @workgroup_size(16, 16, 1)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = arg(0u); let P = arg(1u); let K = arg(2u); let H = arg(3u); let W = arg(4u);
  let kh = arg(5u); let kw = arg(6u);
  let OW = arg(7u); let sh = arg(8u); let sw = arg(9u); let ph = arg(10u); let pw = arg(11u);
  let xn = arg(12u); let xc = arg(13u); let xh = arg(14u); let xw = arg(15u); let xo = arg(16u);
  let wo = arg(17u); let wc = arg(18u); let wi = arg(19u); let wj = arg(20u); let woff = arg(21u);
  let n = i32(wg.z); let row0 = i32(wg.y) * 64; let col0 = i32(wg.x) * 64;
  let tx = i32(lid.x); let ty = i32(lid.y); let t = ty * 16 + tx; let taps = kh * kw;
  var acc: array<f32, 16>;
  for (var k0 = 0; k0 < K; k0 += 16) {
    for (var q = 0; q < 4; q++) {
      let e = t * 4 + q;
      let o = row0 + e / 16; let ka = k0 + e % 16;
      let ca = ka / taps; let ia = (ka % taps) / kw; let ja = ka % kw;
      let wa = woff + min(o, M - 1) * wo + min(ca, K / taps - 1) * wc + ia * wi + ja * wj;
      ta[e] = select(0.0, f32(d2[wa]), o < M && ka < K);
      let kb = k0 + e / 64; let p = col0 + e % 64;
      let c = kb / taps; let i = (kb % taps) / kw; let j = kb % kw;
      let y = (p / OW) * sh + i - ph; let xx = (p % OW) * sw + j - pw;
      let inside = kb < K && p < P && y >= 0 && y < H && xx >= 0 && xx < W;
      let xa = xo + n * xn + min(c, K / taps - 1) * xc + clamp(y, 0, H - 1) * xh + clamp(xx, 0, W - 1) * xw;
      tb[e] = select(0.0, f32(d1[xa]), inside);
    }
    workgroupBarrier();
    for (var kk = 0; kk < 16; kk++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var q = 0; q < 4; q++) { av[q] = ta[(ty * 4 + q) * 16 + kk]; bv[q] = tb[kk * 64 + tx * 4 + q]; }
      for (var q = 0; q < 4; q++) { for (var r = 0; r < 4; r++) { acc[q * 4 + r] += av[q] * bv[r]; } }
    }
    workgroupBarrier();
  }
  for (var q = 0; q < 4; q++) {
    let o = row0 + ty * 4 + q;
    if (o >= M) { continue; }
    ${bias ? 'let b = f32(d3[arg(23u) + o * arg(22u)]);' : 'let b = 0.0;'}
    for (var r = 0; r < 4; r++) {
      let p = col0 + tx * 4 + r;
      if (p < P) { d0[(n * M + o) * P + p] = ${dtype}(acc[q * 4 + r] + b); }
    }
  }
}
`;

export default defineKernel({
  name: 'conv2d_igemm',
  op: 'conv2d',
  description:
    'WGSL conv2d as an implicit GEMM: windows gathered into workgroup-memory tiles, 64 × 64 outputs per workgroup',
  devices: ['webgpu'],
  applies: ({ x, w, bias, dilation, groups }) =>
    groups === 1 &&
    dilation[0] === 1 &&
    dilation[1] === 1 &&
    (x.dtype === 'f32' || x.dtype === 'f16') &&
    w.dtype === x.dtype &&
    (!bias || bias.dtype === x.dtype) &&
    w.shape[0]! >= 16,
  cases: [
    { name: '3x3 pad 1, 8 -> 24 channels, 20x18', inputs: [[1, 8, 20, 18], [24, 8, 3, 3], [24]], args: { padding: 1 } },
    {
      name: '3x3 stride 2, batch 2, no bias',
      inputs: [
        [2, 5, 17, 15],
        [32, 5, 3, 3],
      ],
      args: { padding: 1, stride: 2 },
    },
    { name: '1x1, 64 -> 16', inputs: [[1, 64, 9, 9], [16, 64, 1, 1], [16]] },
    { name: 'bench: 3x3 64 -> 64, 64x48', inputs: [[1, 64, 64, 48], [64, 64, 3, 3], [64]], args: { padding: 1 } },
  ],
  impl: {
    kind: 'source',
    sources: { wgsl },
    values,
    launch: (args) => {
      const g = geometry(args);
      return { grid: [Math.ceil((g.OH * g.OW) / 64), Math.ceil(g.Co / 64), args.x.shape[0]!], block: 256 };
    },
  },
});
