// STAGE (workgroup-memory staging under LOCAL tiles) on every GPU backend found: staged matmuls, ragged, batched,
// upcast and needing several fills per thread, match float64; their sources stage through workgroup memory between
// barriers; lists where staging cannot work are refused with the reason.
import { describe, expect, test } from 'vitest';
import { type OptCaps, invalidOpts } from '../../codegen/actions.js';
import type { Kernel, Opt } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { render } from '../../codegen/render.js';
import { getDevice, tensor } from '../../index.js';
import { overrideOpts } from '../../runtime/beam.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';
import { matmul } from '../ops/ref.js';
import { uniform } from '../ops/nd.js';

const gpus = backends.filter((d) => d !== 'cpu');
const reduceId = (k: Kernel): number =>
  k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;

interface Case {
  readonly name: string;
  readonly a: readonly number[];
  readonly b: readonly number[];
  /** The actions for the matmul kernel, given its reduce range and the device's workgroup size. */
  readonly opts: (r: number, wg: number) => Opt[];
}
/** Two LOCAL tiles whose product is the workgroup (wg = 2^k threads: rows × cols). */
const tiles = (wg: number, rowAxis: number): Opt[] => {
  const cols = 2 ** Math.ceil(Math.log2(wg) / 2);
  return [
    { op: 'LOCAL', axis: rowAxis, amount: wg / cols },
    { op: 'LOCAL', axis: rowAxis + 1, amount: cols },
  ];
};
const cases: Case[] = [
  { name: 'matmul 32x64 @ 64x32', a: [32, 64], b: [64, 32], opts: (r, wg) => [...tiles(wg, 0), st(r, 16)] },
  {
    name: 'ragged: 40x96 @ 96x36, padded to the tiles, several fills per thread',
    a: [40, 96],
    b: [96, 36],
    opts: (r, wg) => [
      { op: 'PADTO', axis: 0, amount: 16 },
      { op: 'PADTO', axis: 1, amount: 16 },
      ...tiles(wg, 0),
      st(r, 32),
    ],
  },
  {
    name: 'upcast: 32x48 @ 48x64, two outputs per thread',
    a: [32, 48],
    b: [48, 64],
    opts: (r, wg) => [{ op: 'UPCAST', axis: 1, amount: 2 }, ...tiles(wg, 0), st(r, 8)],
  },
  { name: 'batched: 3x32x24 @ 3x24x16', a: [3, 32, 24], b: [3, 24, 16], opts: (r, wg) => [...tiles(wg, 1), st(r, 8)] },
];
function st(axis: number, amount: number): Opt {
  return { op: 'STAGE', axis, amount };
}

describe.each(gpus)('STAGE on %s', (device) => {
  const caps = getDevice(device).caps;
  test.each(cases)('$name matches float64 and stages through workgroup memory', async (c) => {
    const x = uniform(c.a, 11, -1, 1),
      y = uniform(c.b, 12, -1, 1);
    const a = tensor(Float32Array.from(x.data), { shape: c.a, device }),
      b = tensor(Float32Array.from(y.data), { shape: c.b, device });
    const [k] = plan(a.matmul(b)) as [Kernel];
    const opts = c.opts(reduceId(k), caps.workgroupSize);
    expect(invalidOpts(k, opts, caps)).toBeUndefined();
    const staged = { ...k, opts };
    const { source } = render(staged, linearize(staged, false), getDevice(device).language);
    const barriers = source.split(getDevice(device).language.barrier!).length - 1;
    expect(barriers).toBe(2);
    expect(source).toMatch(device.startsWith('webgpu') ? /var<workgroup> sm\d+/ : /__shared__ \w+ sm\d+/);
    let applied = 0;
    overrideOpts((kk) => {
      if (!kk.stores.some((s) => s.toposort().some((u) => u.op === 'REDUCE'))) return undefined;
      applied++;
      return opts;
    });
    try {
      const got = await a.matmul(b).data();
      const want = matmul(x, y).data;
      expect(applied).toBe(1);
      expect(got.length).toBe(want.length);
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(want[i]!)));
    } finally {
      overrideOpts(undefined);
    }
  });
});

describe('STAGE is refused where staging cannot work', () => {
  const gpu: OptCaps = { globalsAsLoops: false, workgroupSize: 64, threads: 65536, sharedBytes: 16384 };
  const a = tensor(
    Float32Array.from({ length: 16 * 32 }, (_, i) => Math.sin(i)),
    { shape: [16, 32] },
  );
  const b = tensor(
    Float32Array.from({ length: 32 * 16 }, (_, i) => Math.cos(i)),
    { shape: [32, 16] },
  );
  const [mm] = plan(a.matmul(b)) as [Kernel];
  const [sum] = plan(a.sum(1)) as [Kernel];
  const r = reduceId(mm);
  const whole: Opt[] = [
    { op: 'LOCAL', axis: 0, amount: 8 },
    { op: 'LOCAL', axis: 1, amount: 8 },
  ];
  test.each([
    ['on the CPU', mm, [...whole, st(r, 8)], { globalsAsLoops: true, workgroupSize: 1, threads: 1 }, "a GPU's"],
    ['without LOCAL tiles that fill the workgroup', mm, [whole[0]!, st(r, 8)], gpu, 'whole workgroups'],
    [
      'with GROUP on the staged range',
      mm,
      [...whole, st(r, 8), { op: 'GROUP', axis: r, amount: 4 }],
      gpu,
      'split twice',
    ],
    ['by a non-divisor of the reduce', mm, [...whole, st(r, 5)], gpu, 'splits by 5'],
    ['where no thread shares a load', sum, [{ op: 'LOCAL', axis: 0, amount: 16 }, st(reduceId(sum), 8)], gpu, 'share'],
    ['past the workgroup memory', mm, [...whole, st(r, 32)], { ...gpu, sharedBytes: 1024 }, 'more than the 1024'],
    ['where the device has none', mm, [...whole, st(r, 8)], { ...gpu, sharedBytes: undefined }, 'more than the 0'],
  ] as const)('%s', (_, k, opts, caps, why) => {
    expect(invalidOpts(k, opts as readonly Opt[], caps)).toContain(why);
  });
});

test('staged bf16 takes the bytes of its storage: WebGPU keeps bf16 in f32, so 2-byte tiles may not fit', () => {
  const x = tensor(Float32Array.from(uniform([256, 64], 1).data), { shape: [256, 64], dtype: 'bf16' });
  const w = tensor(Float32Array.from(uniform([64, 32], 2).data), { shape: [64, 32], dtype: 'bf16' });
  const k = plan(x.matmul(w)).at(-1)!;
  const opts: Opt[] = [
    { op: 'UPCAST', axis: 0, amount: 8 },
    { op: 'UPCAST', axis: 1, amount: 4 },
    { op: 'LOCAL', axis: 0, amount: 32 },
    { op: 'LOCAL', axis: 1, amount: 8 },
    { op: 'STAGE', axis: reduceId(k), amount: 32 },
  ];
  const caps: OptCaps = { globalsAsLoops: false, workgroupSize: 256, threads: 65536, sharedBytes: 32768 };
  expect(invalidOpts(k, opts, caps)).toBeUndefined(); // 18432 bytes in 16-bit storage
  expect(invalidOpts(k, opts, { ...caps, storage: { bf16: 'f32' } })).toMatch(/36864 bytes of workgroup memory/);
});
