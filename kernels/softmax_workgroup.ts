// Softmax along the last dim in WGSL with one workgroup per row: its threads stride through the row once, each keeping
// its running max and the sum of exponentials against it (rescaled when the max grows), combine those pairs in
// workgroup memory, then write the row. Long rows get a whole workgroup instead of one thread; the row is read twice,
// as vec4s where rows are contiguous and 4-aligned (on lavapipe a vec4 access costs about what a scalar one does).
import { type Caps, type CompositeArgs, type DType, defineKernel, rowsByFours, wgslBindings } from './define.js';

/** n, the row's element stride, the offset, and the shape and strides of up to three outer dims (front-padded). */
function values({ x }: CompositeArgs['softmax']): number[] {
  const n = x.shape.length,
    outer = x.shape.slice(0, -1),
    so = x.strides.slice(0, -1);
  const pad = <T>(a: readonly T[], fill: T): T[] => [...new Array<T>(3 - a.length).fill(fill), ...a];
  return [x.shape[n - 1]!, x.strides[n - 1]!, x.offset, ...pad(outer, 1), ...pad(so, 0)];
}

/** The rows softmax runs over: every dim but the last. */
const rowsOf = ({ x }: CompositeArgs['softmax']): number => x.shape.slice(0, -1).reduce((a, b) => a * b, 1);

/**
 * Threads a row: 256 where the device keeps that many busy for every row, down to 64 where it has few threads (a
 * software adapter runs a workgroup's threads in turn: 64 of them a row took 25 % less time than 256 on lavapipe).
 */
function threadsPerRow(args: CompositeArgs['softmax'], caps: Caps): 64 | 128 | 256 {
  const fill = caps.threads / rowsOf(args);
  return fill >= 256 ? 256 : fill >= 128 ? 128 : 64;
}

const wgsl = (dtype: DType, args: CompositeArgs['softmax'], caps: Caps): string => {
  const t = threadsPerRow(args, caps),
    w = rowsByFours(args.x) ? 4 : 1,
    f = w === 4 ? 'vec4<f32>' : 'f32',
    // the largest and the sum of a loaded value's lanes
    hmax = (v: string) => (w === 4 ? `max(max(${v}.x, ${v}.y), max(${v}.z, ${v}.w))` : v),
    hsum = (v: string) => (w === 4 ? `dot(${v}, vec4(1.0))` : v);
  return `${wgslBindings(dtype, [dtype], w)}
var<workgroup> shm: array<f32, ${t}>;
var<workgroup> shs: array<f32, ${t}>;
// a sum of exponentials taken against max a, rescaled to max b (nothing where the sum is empty)
fn rescale(s: f32, a: f32, b: f32) -> f32 { return select(s * exp(a - b), 0.0, s == 0.0); }
@compute @workgroup_size(${t})
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = arg(0u) / ${w}; let sj = arg(1u); let off = arg(2u);
  let o0 = arg(3u); let o1 = arg(4u); let o2 = arg(5u);
  let rows = o0 * o1 * o2;
  let r = i32(wg.y) * 65535 + i32(wg.x);
  if (r >= rows) { return; }   // the whole workgroup leaves together
  let base = (off + (r / (o1 * o2)) * arg(6u) + ((r / o2) % o1) * arg(7u) + (r % o2) * arg(8u)) / ${w};
  // one pass: the running max and the sum of exponentials against it, rescaled when the max grows
  var m = neg_inf();
  var s = 0.0;
  for (var j = i32(lid); j < n; j += ${t}) {
    let x = ${f}(d1[base + j * sj]);
    let mj = max(m, ${hmax('x')});
    let e = select(exp(x - mj), ${f}(0.0), x == ${f}(neg_inf())); // -inf adds nothing (a NaN still poisons s)
    if (mj > m) { s = rescale(s, m, mj); } // rare once a row's max is seen: most steps skip the exp
    s += ${hsum('e')};
    m = mj;
  }
  shm[lid] = m;
  shs[lid] = s;
  workgroupBarrier();
  for (var h = ${t / 2}u; h > 0u; h = h / 2u) {
    if (lid < h) {
      let a = shm[lid]; let b = shm[lid + h]; let mm = max(a, b);
      shs[lid] = rescale(shs[lid], a, mm) + rescale(shs[lid + h], b, mm);
      shm[lid] = mm;
    }
    workgroupBarrier();
  }
  m = shm[0];
  s = shs[0];
  for (var j = i32(lid); j < n; j += ${t}) {
    d0[r * n + j] = ${w === 4 ? `vec4<${dtype}>` : dtype}(exp(${f}(d1[base + j * sj]) - m) / s);
  }
}
`;
};

export default defineKernel({
  name: 'softmax_workgroup',
  op: 'softmax',
  description:
    'WGSL softmax over the last dim, one workgroup of 64-256 threads per row (online max and sum, vec4 loads where ' +
    'aligned)',
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
    { name: 'f16 rows of 4096, as vec4s', inputs: [[3, 4096]], dtype: 'f16', tol: 2e-3 },
    { name: 'bench: 64 rows of 16384', inputs: [[64, 16384]] },
  ],
  impl: {
    kind: 'source',
    sources: { wgsl },
    values,
    launch: (args, caps) => {
      const rows = rowsOf(args);
      return { grid: [Math.min(rows, 65535), Math.ceil(rows / 65535), 1], block: threadsPerRow(args, caps) };
    },
  },
});
