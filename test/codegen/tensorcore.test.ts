// TC (the generated tensor-core path) on every backend whose caps list a tensor core TC renders: f16 and bf16
// matmuls — plain, UPCAST into several tiles, ragged under PADTO, batched, with f32 inputs cast inside, with a fused
// epilogue — equal the float64 reference exactly (operands are multiples of 1/4 in [-1, 1], so every product and
// partial sum is exact in f32 and the f16 result; bf16 results are the reference rounded to bf16), each on a 16×16
// tile (WMMA) and a 32×8 one (two mma.sync m16n8k16 pieces a warp, whose registers ldmatrix loads where the layout
// data says; on a device listing mma.sync alone, 16×16 tiles too, two pieces side by side), and through WebGPU
// subgroup matrices on a 16×16 tile in 8×8×8 pieces. Without a GPU, CUDA_EMULATOR=1 runs them on the CUDA emulator
// (CI), whose mma.sync and ldmatrix place elements by the PTX ISA's formulas; where WebGPU runs, subgroup matrices
// are stood in for (test/webgpu/subgroup-matrix-standin.ts) in subgroups of 8 and of 128 threads, more and fewer
// than a workgroup's 32-thread warps. Lists TC cannot take are refused with the reason on any machine.
import { describe, expect, test } from 'vitest';
import type { TensorCore } from '../../backends/backend.js';
import { type OptCaps, invalidOpts } from '../../codegen/actions.js';
import { cudaFor } from '../../codegen/cuda.js';
import type { DType } from '../../codegen/dtype.js';
import type { Kernel, Opt } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { coreFor } from '../../codegen/tensorcore.js';
import { render } from '../../codegen/render.js';
import { getDevice, registerDevice, type Tensor, tensor } from '../../index.js';
import { overrideOpts } from '../../runtime/beam.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';
import { type Nd, build } from '../ops/nd.js';
import { matmul } from '../ops/ref.js';
import { bf16Round } from '../fuzz/program.js';
import { subgroupMatrixStandIn } from '../webgpu/subgroup-matrix-standin.js';
import { relisted } from '../backends/relisted.js';

const eights: TensorCore = { api: 'subgroup-matrix', m: 8, n: 8, k: 8, input: 'f16', acc: 'f32' };
/** Stand-ins with subgroups of 8 (more than a workgroup's warps) and of 128 (fewer: tiles are dealt out). */
const standIns = backends.includes('webgpu')
  ? [8, 128].map((width) => {
      const b = subgroupMatrixStandIn(getDevice('webgpu'), eights, width);
      registerDevice(b);
      return b.name;
    })
  : [];
/** CUDA listing mma.sync alone, so it takes the 16×16 tiles WMMA takes otherwise, in pieces side by side along n. */
const mmaSyncOnly = backends.includes('cuda')
  ? (() => {
      const cuda = getDevice('cuda'),
        cores = cuda.caps.tensorCores?.filter((t) => t.api === 'mma.sync') ?? [];
      const b = relisted(cuda, 'cuda-mma-sync', 'mma.sync alone', cores, cudaFor(cuda.caps.workgroupSize, cores));
      registerDevice(b);
      return [b.name];
    })()
  : [];
const apis = (d: string): ReadonlySet<string> => new Set(getDevice(d).caps.tensorCores?.map((t) => t.api));
const devices = [...backends, ...standIns, ...mmaSyncOnly].filter((d) => apis(d).size > 0);
if (!devices.length)
  console.warn('TC run tests skipped: no device lists a tensor core TC renders (CUDA_EMULATOR=1 adds them)');

/** The reduce range of a kernel's (first) reduce. */
const reduceId = (k: Kernel): number =>
  k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
/** Seeded multiples of 1/4 in [-1, 1]. */
function quarters(shape: readonly number[], seed: number): Nd {
  let s = seed >>> 0;
  return build(shape, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return ((s >>> 16) % 9) / 4 - 1;
  });
}
const tile = (rowAxis: number, [m, n]: readonly [number, number] = [16, 16]): Opt[] => [
  { op: 'LOCAL', axis: rowAxis, amount: m },
  { op: 'LOCAL', axis: rowAxis + 1, amount: n },
];
/**
 * The tile shapes each case runs on, TC's k, and the call its source multiplies with: each runs on the devices that
 * multiply it with that api (the first listed unit that divides the tile).
 */
const tiles = [
  { tile: [16, 16], k: 16, api: 'wmma', call: 'wmma::mma_sync' },
  { tile: [32, 8], k: 16, api: 'mma.sync', call: 'pg_mma_m16n8k16_' },
  { tile: [16, 16], k: 16, api: 'mma.sync', call: 'pg_mma_m16n8k16_' },
  { tile: [16, 16], k: 8, api: 'subgroup-matrix', call: 'subgroupMatrixMultiplyAccumulate' },
] as const;
const tc = (axis: number, amount = 16): Opt => ({ op: 'TC', axis, amount });

interface Case {
  readonly name: string;
  readonly a: readonly number[];
  readonly b: readonly number[];
  readonly opts: (r: number, t: readonly [number, number], k: number) => Opt[];
  /** The computation over half a, b (default a @ b), and its float64 reference. */
  readonly run?: (a: Tensor, b: Tensor) => Tensor;
  readonly ref?: (a: Nd, b: Nd) => Nd;
  /** Upload f32 and cast inside the kernel (default: half buffers). */
  readonly f32Inputs?: boolean;
}
const cases: Case[] = [
  { name: '32x64 @ 64x48', a: [32, 64], b: [64, 48], opts: (r, t, k) => [...tile(0, t), tc(r, k)] },
  {
    name: 'UPCAST 2x2: four tiles per workgroup, one warp each',
    a: [64, 32],
    b: [32, 64],
    opts: (r, t, k) => [
      { op: 'UPCAST', axis: 0, amount: 2 },
      { op: 'UPCAST', axis: 1, amount: 2 },
      ...tile(0, t),
      tc(r, k),
    ],
  },
  {
    name: 'ragged 40x48 @ 48x36, padded to the tiles',
    a: [40, 48],
    b: [48, 36],
    opts: (r, t, k) => [
      { op: 'PADTO', axis: 0, amount: 32 },
      { op: 'PADTO', axis: 1, amount: 16 },
      ...tile(0, t),
      tc(r, k),
    ],
  },
  { name: 'batched 3x32x32 @ 3x32x16', a: [3, 32, 32], b: [3, 32, 16], opts: (r, t, k) => [...tile(1, t), tc(r, k)] },
  {
    name: 'an epilogue: relu(a @ b) * 2 in the same kernel',
    a: [32, 96],
    b: [96, 32],
    opts: (r, t, k) => [...tile(0, t), tc(r, k)],
    run: (a, b) => a.matmul(b).relu().mul(2),
    ref: (a, b) => {
      const m = matmul(a, b);
      return { shape: m.shape, data: m.data.map((v) => Math.max(v, 0) * 2) };
    },
  },
];

describe.each(devices)('TC on %s', (device) => {
  const caps = getDevice(device).caps,
    lang = getDevice(device).language;
  const inputs = (['f16', 'bf16'] as const).filter((d) => caps.tensorCores?.some((t) => t.input === d));
  const takes = (d: DType, { tile: [m, n], k, api }: (typeof tiles)[number]) =>
    coreFor(caps.tensorCores, { m, n, k }, d, 'f32')?.api === api;
  const all: Case[] = [
    ...cases,
    { ...cases[0]!, name: `${cases[0]!.name}, f32 inputs cast inside the kernel`, f32Inputs: true },
  ];
  test.each(
    inputs.flatMap((dtype) =>
      tiles
        .filter((t) => takes(dtype, t))
        .flatMap(({ tile: t, k, call }) => all.map((c) => ({ ...c, dtype, tile: t, k, call }))),
    ),
  )('$dtype $name on a $tile tile equals float64 and multiplies with $call', async (c) => {
    const x = quarters(c.a, 3),
      y = quarters(c.b, 4);
    const upload = (v: Nd, shape: readonly number[]): Tensor =>
      tensor(Float32Array.from(v.data), { shape: [...shape], device }).cast(c.dtype);
    const a = upload(x, c.a),
      b = upload(y, c.b);
    if (!c.f32Inputs) await Promise.all([a.realize(), b.realize()]); // half buffers, not casts inside the kernel
    const out = (c.run ?? ((p, q) => p.matmul(q)))(a, b);
    const kernels = plan(out),
      k = kernels.find((kk) => kk.stores.some((s) => s.toposort().some((u) => u.op === 'REDUCE')))!;
    const opts = c.opts(reduceId(k), c.tile, c.k);
    expect(invalidOpts(k, opts, caps)).toBeUndefined();
    const { source } = render({ ...k, opts }, linearize({ ...k, opts }, false), lang);
    expect(source).toContain(c.call);
    let applied = 0;
    overrideOpts((kk) => {
      if (!kk.stores.some((s) => s.toposort().some((u) => u.op === 'REDUCE'))) return undefined;
      applied++;
      return opts;
    });
    try {
      const got = await out.cast('f32').data();
      const want = (c.ref ?? matmul)(x, y).data.map(c.dtype === 'bf16' ? bf16Round : (v) => v);
      expect(applied).toBe(1);
      expect(Array.from(got)).toEqual(Array.from(want));
    } finally {
      overrideOpts(undefined);
    }
  });
});

describe('TC is refused where tensor cores cannot take the kernel', () => {
  const wmma16: TensorCore = { api: 'wmma', m: 16, n: 16, k: 16, input: 'f16', acc: 'f32' };
  const gpu: OptCaps = {
    globalsAsLoops: false,
    workgroupSize: 256,
    threads: 65536,
    sharedBytes: 49152,
    tensorCores: [wmma16],
  };
  const t = (shape: number[], seed: number) =>
    tensor(Float32Array.from(quarters(shape, seed).data), { shape }).cast('f16');
  const [mm] = plan(t([32, 64], 1).matmul(t([64, 32], 2))) as [Kernel];
  const [f32mm] = plan(
    tensor(new Float32Array(32 * 64), { shape: [32, 64] }).matmul(
      tensor(new Float32Array(64 * 32), { shape: [64, 32] }),
    ),
  ) as [Kernel];
  const r = reduceId(mm);
  test.each([
    ['where the device lists no tensor core', mm, [...tile(0), tc(r)], { ...gpu, tensorCores: [] }, 'no tensor core'],
    [
      'where LOCAL does not tile m×n',
      mm,
      [{ op: 'LOCAL', axis: 0, amount: 32 }, { op: 'LOCAL', axis: 1, amount: 8 }, tc(r)],
      gpu,
      '16×16×16',
    ],
    [
      'where an mma.sync lists no fragment layout to gather registers by',
      mm,
      [...tile(0, [32, 8]), tc(r)],
      { ...gpu, tensorCores: [{ ...wmma16, api: 'mma.sync', n: 8 }] },
      'no tensor core TC renders',
    ],
    ['with a k no tensor core has', mm, [...tile(0), { op: 'TC', axis: r, amount: 8 }], gpu, 'k = 8'],
    ['on f32 operands', f32mm, [...tile(0), tc(reduceId(f32mm))], gpu, 'products of f16'],
    ['with UNROLL of its range', mm, [...tile(0), tc(r), { op: 'UNROLL', axis: r, amount: 2 }], gpu, 'split twice'],
    ['past the workgroup memory', mm, [...tile(0), tc(r)], { ...gpu, sharedBytes: 1024 }, 'more than the 1024'],
    [
      'where a workgroup is not a whole number of the widest subgroups',
      mm,
      [...tile(0, [8, 8]), tc(r)],
      { ...gpu, workgroupSize: 64, tensorCores: [{ ...wmma16, api: 'subgroup-matrix', m: 8, n: 8, maxSubgroup: 128 }] },
      'not whole 128-thread',
    ],
    ['with STAGE as well', mm, [...tile(0), tc(r), { op: 'STAGE', axis: r, amount: 16 }], gpu, 'split twice'],
  ] as const)('%s', (_, k, opts, caps, why) => {
    expect(invalidOpts(k, opts as readonly Opt[], caps)).toContain(why);
  });
});
