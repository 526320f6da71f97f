// npm run bench -- soak [cpu|webgpu] [frames]: a long NeuralOS run (tiny config, seeded random weights, 1 DDIM step,
// a new random event every frame) in a loop that awaits nothing but the frames, as a CLI or server drain does.
// Samples JS heap (after a full GC), RSS, live device buffers and bytes, and compiles, twenty times over the run;
// what matters is the slope after warm-up, reported per 1,000 frames. Defaults: 10,000 frames on cpu, 2,000 on webgpu.
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { devices, initDevices, memory, stats } from '../index.js';
import { tinyConfig } from '../models/neuralos/config.js';
import { NeuralOS } from '../models/neuralos/neuralos.js';
import { events } from './frame.js';

interface Sample {
  readonly frame: number;
  readonly heapMB: number;
  readonly rssMB: number;
  readonly buffers: number;
  readonly deviceMB: number;
  readonly compiles: number;
}

export async function soakBench(device = 'cpu', framesArg?: string): Promise<void> {
  await initDevices();
  if (!devices().some((d) => d.name === device))
    throw new Error(
      `bench soak: no ${device} device here (have: ${devices()
        .map((d) => d.name)
        .join(', ')})`,
    );
  const frames = framesArg ? Number(framesArg) : device === 'cpu' ? 10_000 : 2_000;
  if (!Number.isInteger(frames) || frames < 20)
    throw new Error(`bench soak: frames must be an integer ≥ 20, got ${framesArg}`);
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const model = await NeuralOS.load(tinyConfig, { device });
  const next = events(tinyConfig, 7),
    samples: Sample[] = [];
  const sample = (frame: number): void => {
    gc();
    const m = memory(),
      mb = (b: number) => b / 2 ** 20;
    samples.push({
      frame,
      heapMB: mb(process.memoryUsage().heapUsed),
      rssMB: mb(process.memoryUsage().rss),
      buffers: m.buffers,
      deviceMB: mb(m.bytes),
      compiles: stats.compiles,
    });
  };
  const started = performance.now();
  for (let f = 0; f < frames; f++) {
    await model.step(next(), { steps: 1 });
    if (f % (frames / 20) === 0 || f === frames - 1) sample(f + 1);
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `soak ${device}: ${frames} frames in ${seconds.toFixed(0)} s (${((1000 * seconds) / frames).toFixed(1)} ` +
      `ms/frame), node ${process.version}`,
  );
  console.log('| frame | heap MB | RSS MB | device buffers | device MB | compiles |\n|---|---|---|---|---|---|');
  for (const s of samples)
    console.log(
      `| ${s.frame} | ${s.heapMB.toFixed(1)} | ${s.rssMB.toFixed(0)} | ${s.buffers} | ${s.deviceMB.toFixed(2)} | ` +
        `${s.compiles} |`,
    );
  // from the second sample on (warm: every stage captured) the heap saw-tooths between collection points
  const warm = samples.slice(1),
    heaps = warm.map((s) => s.heapMB);
  console.log(
    `after warm-up: heap ${Math.min(...heaps).toFixed(1)}–${Math.max(...heaps).toFixed(1)} MB, ` +
      `RSS ${Math.min(...warm.map((s) => s.rssMB)).toFixed(0)}–${Math.max(...warm.map((s) => s.rssMB)).toFixed(0)} MB`,
  );
  const a = warm[0]!,
    b = samples[samples.length - 1]!,
    per = 1000 / (b.frame - a.frame);
  console.log(
    `per 1,000 frames after warm-up: heap ${((b.heapMB - a.heapMB) * per).toFixed(2)} MB, RSS ` +
      `${((b.rssMB - a.rssMB) * per).toFixed(1)} MB, ` +
      `device ${((b.deviceMB - a.deviceMB) * per).toFixed(3)} MB, ${((b.buffers - a.buffers) * per).toFixed(1)} ` +
      `buffers, ${((b.compiles - a.compiles) * per).toFixed(1)} compiles`,
  );
}
