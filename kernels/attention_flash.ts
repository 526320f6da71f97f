// Attention in WGSL without the L × S score matrix in memory (flash attention): each thread owns one or more queries,
// walks the keys with their values and keeps per query a running max, sum and weighted sum of values (online
// softmax). The program is made per head size, so queries and sums live in registers (a loop over a runtime size kept
// them in private arrays: memory on lavapipe, 1.9× slower); the threads of a workgroup read the same key at once, so
// no workgroup memory or barrier is needed. Queries, keys and values are read through their strides, as vec4s where
// rows are contiguous and 4-aligned (18 % faster on lavapipe than scalar loads).
import {
  type Caps,
  type CompositeArgs,
  type DType,
  type KernelInput,
  defineKernel,
  floatBits,
  rowsByFours,
  wgslBindings,
} from './define.js';

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

/**
 * Queries per thread: one while there are fewer queries than threads the device keeps busy, then up to 8, so each key
 * and value a thread loads serves several queries (on lavapipe loads cost most: 4 per thread runs 3.3× faster than 1).
 */
function perThread({ q, v }: CompositeArgs['attention'], caps: Caps): number {
  const queries = q.shape.reduce((a, b) => a * b, 1) / q.shape.at(-1)!,
    // the grid spreads a head's L queries only; ≤ 256 live floats a thread for queries and sums (a GPU's registers)
    perHead = Math.ceil(q.shape.at(-2)! / 64),
    registers = Math.floor(256 / (q.shape.at(-1)! + v.shape.at(-1)!));
  return Math.max(1, Math.min(8, perHead, registers, Math.floor(queries / caps.threads)));
}

/** Queries, keys and values are read as vec4s where all their rows can be (where loads cost most: on lavapipe). */
const byFours = ({ q, k, v }: CompositeArgs['attention']): boolean => [q, k, v].every(rowsByFours);

const wgsl = (dtype: DType, args: CompositeArgs['attention'], caps: Caps): string => {
  const { q, v } = args,
    PER_THREAD = perThread(args, caps),
    w = byFours(args) ? 4 : 1,
    f = w === 4 ? 'vec4<f32>' : 'f32',
    // element c of a row from `base` with element stride `step` (vec4 c of the row where w is 4)
    at = (base: string, c: number, step: string) => (w === 4 ? `${base} / 4 + ${c}` : `${base} + ${c} * ${step}`),
    es = [...Array(q.shape.at(-1)! / w).keys()],
    evs = [...Array(v.shape.at(-1)! / w).keys()],
    ts = [...Array(PER_THREAD).keys()],
    each = (f: (t: number, e: number) => string, over = es) =>
      ts.flatMap((t) => over.map((e) => f(t, e))).join('\n    ');
  return `${wgslBindings(dtype, [dtype, dtype, dtype], w)}
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let H = arg(1u); let L = arg(2u); let S = arg(3u);
  let causal = arg(6u); let scale = argf(7u);
  let b = i32(wg.z); let h = i32(wg.y); let first = i32(wg.x) * ${64 * PER_THREAD} + i32(lid);
  let qb = arg(12u) + b * arg(8u) + h * arg(9u); let qs = arg(10u); let qe = arg(11u);
  let kb = arg(17u) + b * arg(13u) + h * arg(14u); let ks = arg(15u); let ke = arg(16u);
  let vb = arg(22u) + b * arg(18u) + h * arg(19u); let vs = arg(20u); let ve = arg(21u);
  ${ts.map((t) => `let i${t} = first + ${64 * t}; let r${t} = qb + min(i${t}, L - 1) * qs;`).join('\n  ')}
  ${each((t, e) => `let q${t}_${e} = ${f}(d1[${at(`r${t}`, e, 'qe')}]);`)}
  ${each((t, e) => `var a${t}_${e} = ${f}(0.0);`, evs)}
  ${ts.map((t) => `var m${t} = -3.402823e38; var l${t} = 0.0;`).join('\n  ')}
  // the keys the workgroup's last query sees (a causal bound the whole workgroup shares)
  let end = select(S, min(S, i32(wg.x) * ${64 * PER_THREAD} + ${64 * PER_THREAD}), causal != 0);
  for (var j = 0; j < end; j++) {
    let kj = kb + j * ks; let vj = vb + j * vs;
    ${es.map((e) => `let k${e} = ${f}(d2[${at('kj', e, 'ke')}]);`).join('\n    ')}
    ${evs.map((e) => `let v${e} = ${f}(d3[${at('vj', e, 've')}]);`).join('\n    ')}
    ${ts
      .map(
        (t) => `{
      var s = 0.0;
      ${es.map((e) => (w === 4 ? `s += dot(q${t}_${e}, k${e});` : `s += q${t}_${e} * k${e};`)).join(' ')}
      s = s * scale;
      let seen = causal == 0 || j <= i${t};
      let mn = select(m${t}, max(m${t}, s), seen); let corr = exp(m${t} - mn); let p = select(0.0, exp(s - mn), seen);
      l${t} = l${t} * corr + p;
      ${evs.map((e) => `a${t}_${e} = a${t}_${e} * corr + p * v${e};`).join(' ')}
      m${t} = mn;
    }`,
      )
      .join('\n    ')}
  }
  ${ts
    .map(
      (t) => `if (i${t} < L) {
    let o = ((b * H + h) * L + i${t}) * ${evs.length};
    ${evs.map((e) => `d0[o + ${e}] = ${w === 4 ? `vec4<${dtype}>` : dtype}(a${t}_${e} / l${t});`).join(' ')}
  }`,
    )
    .join('\n  ')}
}
`;
};

const batch = (t: KernelInput): string => t.shape.slice(0, -2).join(',');

export default defineKernel({
  name: 'attention_flash',
  op: 'attention',
  description:
    'WGSL flash attention: a query or more a thread, online softmax, queries and sums in registers (per head size)',
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
      name: 'f16, heads of 16 (vec4 loads)',
      inputs: [
        [2, 3, 40, 16],
        [2, 3, 56, 16],
        [2, 3, 56, 8],
      ],
      dtype: 'f16',
      tol: 4e-3,
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
      // more queries than a software adapter's 2048 threads: several queries a thread there
      name: '9000 queries over 50 keys',
      inputs: [
        [9, 1000, 8],
        [9, 50, 8],
        [9, 50, 8],
      ],
    },
    {
      name: 'causal, 4500 queries (the last workgroup of each head partly past the end)',
      inputs: [
        [3, 1500, 8],
        [3, 1500, 8],
        [3, 1500, 4],
      ],
      args: { causal: true },
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
    launch: (args, caps) => {
      const Q = dims4(args.q).shape;
      return { grid: [Math.ceil(Q[2]! / (64 * perThread(args, caps))), Q[1]!, Q[0]!], block: 64 };
    },
  },
});
