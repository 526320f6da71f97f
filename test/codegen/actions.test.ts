// Optimizer actions on the op suite: every kernel of every case gets a random action list (an arbitrary one, which
// invalidOpts often rejects, or a walk through valid neighbours) and must still match its float64 reference on
// every backend; invalid lists are rejected with a reason, never compiled. On GPUs a kernel whose launch LOCAL can
// tile into whole workgroups gets a random such tile and a staged step (TC where valid, else STAGE): both need that
// tile, which a plain walk of a few steps among dozens of neighbours almost never makes.
import { afterAll, describe, expect, test } from 'vitest';
import { type OptCaps, formatOpts, invalidOpts, nextActions } from '../../codegen/actions.js';
import { type Kernel, type Opt, type OptOp, kernelKey } from '../../codegen/kernel.js';
import { fnv } from '../../codegen/uop.js';
import { getDevice, tensor } from '../../index.js';
import { overrideOpts } from '../../runtime/beam.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';
import { type OpCase, cases } from '../ops/cases.js';
import { check } from '../ops/check.js';
import * as R from '../ops/ref.js';

/** A 16-bit matmul of small integers (exact in f16 and bf16, and so are their products and sums in f32): TC. */
function halfMatmul(d: 'f16' | 'bf16', a: number[], b: number[]): OpCase {
  return {
    name: `${d} matmul ${a.join('x')} @ ${b.join('x')} (tensor cores: TC)`,
    inputs: [a, b].map((shape) => ({ shape, lo: -3, hi: 3, int: true })),
    run: (x, y) => x.cast(d).matmul(y.cast(d)).cast('f32'),
    ref: R.matmul,
    rtol: 0,
    atol: 0,
  };
}

// the op suite's shapes are small: a few larger kernels give GROUP, LOCAL and long unrolls room
const larger: OpCase[] = [
  {
    name: 'matmul 40x96 @ 96x36',
    inputs: [{ shape: [40, 96] }, { shape: [96, 36] }],
    run: (a, b) => a.matmul(b),
    ref: R.matmul,
    rtol: 1e-4,
    atol: 1e-4,
  },
  {
    name: 'softmax rows of 200',
    inputs: [{ shape: [6, 200] }],
    run: (t) => t.softmax(-1),
    ref: (x) => R.softmax(x, 1),
    rtol: 1e-4,
    atol: 1e-6,
  },
  {
    name: 'layer norm of 6 x 320',
    inputs: [{ shape: [6, 320] }],
    run: (t) => t.layerNorm([320]),
    ref: (x) => R.layerNorm(x, 1),
    rtol: 1e-3,
    atol: 1e-4,
  },
  {
    name: 'matmul 64x64 @ 64x48 (whole 256-thread tiles: STAGE)',
    inputs: [{ shape: [64, 64] }, { shape: [64, 48] }],
    run: (a, b) => a.matmul(b),
    ref: R.matmul,
    rtol: 1e-4,
    atol: 1e-4,
  },
  halfMatmul('f16', [32, 64], [64, 48]),
  halfMatmul('bf16', [64, 32], [32, 64]),
  {
    name: 'batched matmul 2x64x32 @ 2x32x48 (STAGE)',
    inputs: [{ shape: [2, 64, 32] }, { shape: [2, 32, 48] }],
    run: (a, b) => a.matmul(b),
    ref: R.matmul,
    rtol: 1e-4,
    atol: 1e-4,
  },
  {
    name: 'conv2d 3x3, 6 -> 10 channels, 14x18',
    inputs: [{ shape: [1, 6, 14, 18] }, { shape: [10, 6, 3, 3] }],
    run: (x, w) => x.conv2d(w, undefined, { padding: 1 }),
    ref: (x, w) => R.conv2d(x, w, undefined),
    rtol: 1e-4,
    atol: 1e-4,
  },
];

const ops: OptOp[] = ['UPCAST', 'UNROLL', 'GROUP', 'GROUPWIDE', 'LOCAL', 'PADTO'];
const amounts = [1, 2, 3, 4, 5, 8, 16, 32, 64];

/** mulberry32: a seeded stream in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const reduceExtents = (k: Kernel): Map<number, number> =>
  new Map(
    k.stores.flatMap((s) =>
      s
        .toposort()
        .filter((u) => u.op === 'RANGE' && u.range.kind === 'reduce')
        .map((u) => [u.range.id, u.range.extent] as [number, number]),
    ),
  );
const reduceIds = (k: Kernel): number[] => [...reduceExtents(k).keys()];

interface Tally {
  arbitrary: number;
  rejected: number;
  walked: number;
  tiled: number;
  used: Map<OptOp, number>;
}
const tallies = new Map<string, Tally>();

/**
 * A random LOCAL tile that is one whole workgroup, one that admits TC where any does (not every tile's sides are
 * multiples of a tensor core's), or undefined where no tile is whole: every such tile, then a pick.
 */
function wholeTile(k: Kernel, caps: OptCaps, r: () => number): Opt[] | undefined {
  const whole: Opt[][] = [],
    seen = new Set<string>();
  const grow = (list: Opt[]): void => {
    const tile = list.reduce((a, o) => a * o.amount, 1),
      key = formatOpts([...list].sort((x, y) => x.axis - y.axis));
    if (seen.has(key)) return;
    seen.add(key);
    if (tile === caps.workgroupSize) whole.push(list);
    else for (const next of nextActions(k, list, caps)) if (next.at(-1)!.op === 'LOCAL') grow(next);
  };
  grow([]);
  const tc = whole.filter((l) => nextActions(k, l, caps).some((n) => n.at(-1)!.op === 'TC'));
  const pool = tc.length ? tc : whole;
  return pool.length ? pool[Math.floor(r() * pool.length)] : undefined;
}

/**
 * A random action list for k: on a GPU where LOCAL can tile whole workgroups, that tile and a staged step; else
 * arbitrary half the time (kept only when valid), else a walk of 1–4 valid steps.
 */
function randomOpts(device: string, k: Kernel, caps: OptCaps): Opt[] {
  const t = tallies.get(device)!,
    r = rng(fnv(`${device}|${kernelKey(k)}`));
  const any = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  let list: Opt[] = [];
  const tile = caps.globalsAsLoops ? undefined : wholeTile(k, caps, r);
  if (tile) {
    // then a staged step where one is valid (TC before STAGE: it needs f16 operands and tensor cores, so it is
    // rarer), and maybe one step more
    list = tile;
    const next0 = nextActions(k, list, caps),
      staged = (op: OptOp) => next0.filter((l) => l.at(-1)!.op === op);
    const first = staged('TC').length ? staged('TC') : staged('STAGE');
    if (first.length) list = any(first);
    const next = nextActions(k, list, caps);
    if (next.length && r() < 0.5) list = any(next);
    t.tiled++;
  }
  if (!list.length && r() < 0.5) {
    // axes: the kernel's own (global axes, reduce range ids) and a few it lacks
    const axes = [...k.shape.keys(), ...reduceIds(k), k.shape.length + 5];
    const extent = (axis: number): number => k.shape[axis] ?? reduceExtents(k).get(axis) ?? 1;
    const divisors = (n: number): number[] => amounts.filter((a) => a > 1 && n % a === 0);
    // amounts: often a divisor of the axis's extent (more lists pass), else anything
    list = Array.from({ length: 1 + Math.floor(r() * 2) }, () => {
      const op = any(ops),
        axis = any(axes),
        fit = divisors(extent(axis));
      return { op, axis, amount: fit.length && r() < 0.6 ? any(fit) : any(amounts) };
    });
    if (r() < 0.5) list = list.slice(0, 1);
    if (!invalidOpts(k, list, caps)) t.arbitrary++;
    else {
      t.rejected++;
      list = [];
    }
  }
  if (!list.length) {
    for (let i = 0, n = 1 + Math.floor(r() * 4); i < n; i++) {
      const next = nextActions(k, list, caps);
      if (!next.length) break;
      list = any(next);
    }
    t.walked++;
  }
  for (const o of list) t.used.set(o.op, (t.used.get(o.op) ?? 0) + 1);
  return list;
}

describe.each(backends)('random optimizer actions on %s', (device) => {
  test('every op-suite case matches float64 under random action lists', async () => {
    tallies.set(device, { arbitrary: 0, rejected: 0, walked: 0, tiled: 0, used: new Map() });
    overrideOpts((k, caps) => randomOpts(device, k, caps));
    try {
      for (const c of [...cases.filter((x) => !x.ieee || !device.startsWith('webgpu')), ...larger])
        await check(c, device, 'contiguous');
    } finally {
      overrideOpts(undefined);
    }
    const t = tallies.get(device)!;
    // the lists were really random and really applied: both kinds ran, and every action this device has was used
    expect(t.arbitrary).toBeGreaterThan(5);
    expect(t.rejected).toBeGreaterThan(20);
    expect(t.walked).toBeGreaterThan(100);
    const mine = device === 'cpu' ? ['UPCAST', 'UNROLL', 'PADTO'] : ops;
    for (const op of mine) expect(t.used.get(op as OptOp) ?? 0, op).toBeGreaterThan(5);
    // STAGE on every GPU, TC where the device has tensor cores (the CUDA emulator; not lavapipe)
    const caps = getDevice(device).caps;
    if (!caps.globalsAsLoops) expect(t.tiled, 'tiled walks').toBeGreaterThanOrEqual(4);
    if (!caps.globalsAsLoops) expect(t.used.get('STAGE') ?? 0, 'STAGE').toBeGreaterThan(0);
    if (caps.tensorCores?.length) expect(t.used.get('TC') ?? 0, 'TC').toBeGreaterThan(0);
  }, 600_000);
});

describe('invalid action lists are rejected with a reason', () => {
  const gpu: OptCaps = { globalsAsLoops: false, workgroupSize: 64, threads: 65536 };
  const cpu: OptCaps = { globalsAsLoops: true, workgroupSize: 1, threads: 1 };
  const x = tensor(
    Float32Array.from({ length: 6 * 10 }, (_, i) => Math.sin(i)),
    { shape: [6, 10] },
  );
  const [sum] = plan(x.sum(1)) as [Kernel];
  const [any] = plan(x.gt(0).any(1)) as [Kernel];
  const reduceId = (k: Kernel): number =>
    k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
  const r = reduceId(sum);
  test.each([
    ['UPCAST by a non-divisor', sum, [{ op: 'UPCAST', axis: 0, amount: 4 }], gpu, 'does not split by 4'],
    ['an amount of 1', sum, [{ op: 'UPCAST', axis: 0, amount: 1 }], gpu, 'integer above 1'],
    ['an axis the kernel lacks', sum, [{ op: 'LOCAL', axis: 7, amount: 2 }], gpu, 'has no axis 7'],
    ['GROUP on the CPU', sum, [{ op: 'GROUP', axis: r, amount: 2 }], cpu, "a GPU's"],
    ['GROUP by a non-power of two', sum, [{ op: 'GROUP', axis: r, amount: 5 }], gpu, 'power of two'],
    ['UNROLL of a reduce of bools', any, [{ op: 'UNROLL', axis: reduceId(any), amount: 2 }], gpu, 'folds bools'],
    [
      'one range unrolled and grouped',
      sum,
      [
        { op: 'UNROLL', axis: r, amount: 2 },
        { op: 'GROUP', axis: r, amount: 2 },
      ],
      gpu,
      'split twice',
    ],
    ['PADTO of a multiple', sum, [{ op: 'PADTO', axis: 0, amount: 3 }], gpu, 'a multiple of 3 already'],
    ['PADTO more than doubling', sum, [{ op: 'PADTO', axis: 0, amount: 16 }], gpu, 'more than double'],
    [
      'a LOCAL tile no workgroup holds whole',
      sum,
      [
        { op: 'PADTO', axis: 0, amount: 8 },
        { op: 'LOCAL', axis: 0, amount: 8 },
      ],
      { ...gpu, workgroupSize: 4 },
      'does not divide',
    ],
  ] as const)('%s', (_, k, opts, caps, why) => {
    expect(invalidOpts(k, opts as readonly Opt[], caps)).toContain(why);
  });
  test('an invalid list given to the compiler fails the run with the reason (it is never compiled)', async () => {
    overrideOpts(() => [{ op: 'UPCAST', axis: 0, amount: 4 }]);
    try {
      await expect(tensor([1, 2, 3, 4, 5, 6]).reshape([2, 3]).sum(1).data()).rejects.toThrow(
        /UPCAST\(0, 4\).*does not split by 4/,
      );
    } finally {
      overrideOpts(undefined);
    }
  });
});
afterAll(() => overrideOpts(undefined));
