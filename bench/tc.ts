// npm run bench -- tc [device] [small]: f16 matmuls with the heuristic's actions, STAGE tiles, and TC (the generated
// tensor-core path: WMMA on 16×16 tiles, mma.sync on 32×8) with one, four and eight matrix tiles a workgroup, on one
// device (default cuda), in one run.
// `small`: the first shape only (to try the plumbing on a slow device). Every variant's output is checked against
// the heuristic's before timing; a variant the device cannot take (no tensor cores, too little workgroup memory)
// prints the optimizer's reason instead of a time.
import { invalidOpts } from '../codegen/actions.js';
import type { Kernel, Opt } from '../codegen/kernel.js';
import { type Tensor, devices, getDevice, initDevices, randn, stats } from '../index.js';
import { overrideOpts } from '../runtime/beam.js';
import { plan } from '../runtime/plan.js';
import { maxError, time } from './workloads.js';

const shapes: [number, number, number][] = [
  [512, 512, 512],
  [1024, 1024, 1024],
  [2048, 2048, 2048],
  [3072, 320, 1280], // a UNet block's 1×1 projection over 64×48 latents
];
/** The actions of a variant, given the reduce range id; undefined keeps the heuristic's. */
const variants: [string, ((r: number) => Opt[]) | undefined][] = [
  ['heuristic', undefined],
  ['LOCAL 16×16 + STAGE 16', (r) => [...tiles(), { op: 'STAGE', axis: r, amount: 16 }]],
  ['LOCAL 16×16 + TC', (r) => [...tiles(), tc(r)]],
  ['UPCAST 2×2 + LOCAL + TC (4 tiles)', (r) => [...upcast(2, 2), ...tiles(), tc(r)]],
  ['UPCAST 4×2 + LOCAL + TC (8 tiles)', (r) => [...upcast(4, 2), ...tiles(), tc(r)]],
  ['LOCAL 32×8 + TC (mma.sync m16n8k16 ×2)', (r) => [...tiles(32, 8), tc(r)]],
  ['UPCAST 2×2 + LOCAL 32×8 + TC (mma.sync, 4 tiles)', (r) => [...upcast(2, 2), ...tiles(32, 8), tc(r)]],
  ['UPCAST 2×4 + LOCAL 32×8 + TC (mma.sync, 8 tiles)', (r) => [...upcast(2, 4), ...tiles(32, 8), tc(r)]],
];
/** LOCAL m×n: 16×16 takes WMMA, 32×8 mma.sync (codegen/cuda.ts picks the first listed unit that divides it). */
function tiles(m = 16, n = 16): Opt[] {
  return [
    { op: 'LOCAL', axis: 0, amount: m },
    { op: 'LOCAL', axis: 1, amount: n },
  ];
}
function upcast(a: number, b: number): Opt[] {
  return [
    { op: 'UPCAST', axis: 0, amount: a },
    { op: 'UPCAST', axis: 1, amount: b },
  ];
}
function tc(axis: number): Opt {
  return { op: 'TC', axis, amount: 16 };
}
const isMatmul = (k: Kernel): boolean => k.stores.some((s) => s.toposort().some((u) => u.op === 'REDUCE'));

export async function tcBench(device = 'cuda', size?: string): Promise<void> {
  await initDevices();
  const backend = getDevice(device);
  const rows: string[] = [];
  for (const [n, k, m] of size === 'small' ? shapes.slice(0, 1) : shapes) {
    const a = await randn([n, k], { seed: 1, device }).cast('f16').realize(),
      b = await randn([k, m], { seed: 2, device }).cast('f16').realize();
    const mm = plan(a.matmul(b)).find(isMatmul)!,
      r = mm.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
    let base: ArrayLike<number> | undefined,
      heuristic = 0;
    for (const [name, opts] of variants) {
      const list = opts?.(r);
      const why = list && invalidOpts(mm, list, backend.caps);
      if (why) {
        rows.push(`| ${n}x${k}x${m} | ${name} | — | — | ${why} |`);
        console.log(rows.at(-1));
        continue;
      }
      overrideOpts(list ? (kk) => (isMatmul(kk) ? list : undefined) : undefined);
      try {
        const first: Tensor = await a.matmul(b).realize(), // the timed graph, compiled here
          out = await first.cast('f32').data();
        first.dispose();
        base ??= out;
        const err = maxError(out, base);
        if (!(err < 2e-2)) throw new Error(`${n}x${k}x${m} ${name}: disagrees with the heuristic (max error ${err})`);
        const c0 = stats.compiles;
        const t = await time(`${device} ${n}x${k}x${m} ${name}`, async () => {
          const o = a.matmul(b);
          await o.realize();
          await backend.sync();
          o.dispose();
        });
        if (stats.compiles !== c0) throw new Error(`${name}: compiled during timing`);
        heuristic ||= t.ms;
        const tflops = (2 * n * k * m) / (t.ms * 1e9);
        rows.push(
          `| ${n}x${k}x${m} | ${name} | ${t.ms.toFixed(3)} | ${tflops.toFixed(2)} | ${(heuristic / t.ms).toFixed(2)} |`,
        );
      } finally {
        overrideOpts(undefined);
      }
      console.log(rows.at(-1));
    }
    a.dispose();
    b.dispose();
  }
  console.log(`\n${device}: ${devices().find((d) => d.name === device)!.description}`);
  console.log('\n| f16 matmul n×k×m | actions | ms | TFLOP/s | heuristic / this (or why not) |');
  console.log('|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(
    '\nTimes are tinybench medians of a launch and its completion (inputs realized once, f16 in, f32 accumulate).',
  );
}
