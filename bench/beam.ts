// npm run bench -- beam [cpu|webgpu]: the heuristic's optimizer actions against BEAM=2 and BEAM=4 on the workloads
// of the cpu and webgpu suites, in one run. Each width searches afresh (a private cache directory, entries are per
// width), then the workload is timed with tinybench like the other suites; outputs are compared with the heuristic's.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, devices, initDevices, stats } from '../index.js';
import { beamStats, reloadBeamCache, setBeam } from '../runtime/beam.js';
import { type Suite, TOLERANCE, maxError, time, workloads } from './workloads.js';

const widths = [0, 2, 4];

export async function beamBench(which?: string): Promise<void> {
  process.env.POLYGRAD_CACHE = mkdtempSync(join(tmpdir(), 'polygrad-beam-bench-'));
  await reloadBeamCache();
  await initDevices();
  const suites: Suite[] =
    which === 'cpu' || which === 'webgpu'
      ? [which]
      : ['cpu', ...(devices().some((d) => d.name === 'webgpu') ? ['webgpu' as const] : [])];
  const rows: string[] = [];
  for (const suite of suites) {
    const desc = devices().find((d) => d.name === suite)!.description;
    for (const w of workloads(suite)) {
      const p = w.poly(suite),
        inputs = await Promise.all(p.inputs.map((x) => x.realize()));
      const cells: string[] = [];
      let heuristic = 0,
        base: ArrayLike<number> | undefined;
      for (const width of widths) {
        setBeam(width);
        const s0 = { ...beamStats },
          t0 = performance.now();
        const first: Tensor = p.run(...inputs),
          out = await first.data();
        first.dispose();
        const searchS = (performance.now() - t0) / 1000,
          tried = beamStats.timed - s0.timed;
        base ??= out;
        const err = maxError(out, base);
        if (!(err < TOLERANCE))
          throw new Error(`${w.name}: BEAM=${width} disagrees with the heuristic (max error ${err})`);
        const c0 = stats.compiles;
        const r = await time(`${suite} ${w.name} BEAM=${width}`, async () => {
          const o = p.run(...inputs);
          await o.data();
          o.dispose();
        });
        if (stats.compiles !== c0) throw new Error(`${w.name}: compiled during timing`);
        if (width === 0) {
          heuristic = r.ms;
          cells.push(r.ms.toFixed(2));
          continue;
        }
        cells.push(r.ms.toFixed(2), (heuristic / r.ms).toFixed(2), `${tried} in ${searchS.toFixed(1)} s`);
      }
      inputs.forEach((x) => x.dispose());
      rows.push(`| ${suite} | ${w.name} | ${cells.join(' | ')} |`);
      console.log(rows.at(-1));
    }
    console.log(`${suite}: ${desc}`);
  }
  setBeam(0);
  console.log(
    '\n| device | workload | heuristic ms | BEAM=2 ms | heuristic / BEAM=2 | BEAM=2 search | BEAM=4 ms | heuristic ' +
      '/ BEAM=4 | BEAM=4 search |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
  console.log(
    '\nTimes are tinybench medians of whole runs (build, schedule, launch, read back); "search": candidates timed and',
  );
  console.log('wall time of the first run, which searches every kernel of the workload (BEAM_BUDGET per kernel).');
}
