// Softmax along the last dim in WGSL with one workgroup per row: 256 threads stride through the row for its max,
// combine in workgroup memory, do the same for the sum of exponentials, then write the row. Long rows get a whole
// workgroup instead of one thread, and the row is read three times from cache instead of twice from memory.
import { type CompositeArgs, type DType, defineKernel, wgslBindings } from './define.js';

/** n, the row's element stride, the offset, and the shape and strides of up to three outer dims (front-padded). */
function values({ x }: CompositeArgs['softmax']): number[] {
  const n = x.shape.length,
    outer = x.shape.slice(0, -1),
    so = x.strides.slice(0, -1);
  const pad = <T>(a: readonly T[], fill: T): T[] => [...new Array<T>(3 - a.length).fill(fill), ...a];
  return [x.shape[n - 1]!, x.strides[n - 1]!, x.offset, ...pad(outer, 1), ...pad(so, 0)];
}

const wgsl = (dtype: DType): string => `${wgslBindings(dtype, [dtype])}
var<workgroup> sh: array<f32, 256>;
fn reduce(lid: u32, isMax: bool) -> f32 {
  for (var s = 128u; s > 0u; s = s / 2u) {
    if (lid < s) { sh[lid] = select(sh[lid] + sh[lid + s], max(sh[lid], sh[lid + s]), isMax); }
    workgroupBarrier();
  }
  let r = sh[0];
  workgroupBarrier();
  return r;
}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = arg(0u); let sj = arg(1u); let off = arg(2u);
  let o0 = arg(3u); let o1 = arg(4u); let o2 = arg(5u);
  let rows = o0 * o1 * o2;
  let r = i32(wg.y) * 65535 + i32(wg.x);
  if (r >= rows) { return; }   // the whole workgroup leaves together
  let base = off + (r / (o1 * o2)) * arg(6u) + ((r / o2) % o1) * arg(7u) + (r % o2) * arg(8u);
  var m = neg_inf();
  for (var j = i32(lid); j < n; j += 256) { m = max(m, f32(d1[base + j * sj])); }
  sh[lid] = m;
  workgroupBarrier();
  m = reduce(lid, true);
  var s = 0.0;
  for (var j = i32(lid); j < n; j += 256) { s += exp(f32(d1[base + j * sj]) - m); }
  sh[lid] = s;
  workgroupBarrier();
  s = reduce(lid, false);
  for (var j = i32(lid); j < n; j += 256) { d0[r * n + j] = ${dtype}(exp(f32(d1[base + j * sj]) - m) / s); }
}
`;

export default defineKernel({
  name: 'softmax_workgroup',
  op: 'softmax',
  description:
    'WGSL softmax over the last dim, one 256-thread workgroup per row (max and sum combined in workgroup memory)',
  devices: ['webgpu'],
  applies: ({ x, dim }) =>
    (x.dtype === 'f32' || x.dtype === 'f16') &&
    x.shape.length >= 1 &&
    x.shape.length <= 4 &&
    dim === x.shape.length - 1 &&
    x.shape[dim]! >= 256,
  cases: [
    { name: 'rows of 1000', inputs: [[6, 1000]] },
    { name: 'a strided 3-d input', inputs: [[3, 300, 260]], transposed: [0] },
    { name: 'f16 rows of 4097', inputs: [[2, 4097]], dtype: 'f16', tol: 2e-3 },
    { name: 'bench: 64 rows of 16384', inputs: [[64, 16384]] },
  ],
  impl: {
    kind: 'source',
    sources: { wgsl },
    values,
    launch: ({ x }) => {
      const rows = x.shape.slice(0, -1).reduce((a, b) => a * b, 1);
      return { grid: [Math.min(rows, 65535), Math.ceil(rows / 65535), 1], block: 256 };
    },
  },
});
