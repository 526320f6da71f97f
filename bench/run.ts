// npm run bench [-- webgpu | frame | beam | soak | tc]: polygrad against TensorFlow.js, measured with tinybench in one
// process, printed as one ratio table.
// cpu suite (default): polygrad CPU vs tfjs-core on the `cpu` and `wasm` (SIMD, single thread) backends;
// webgpu suite: polygrad WebGPU vs tfjs-backend-webgpu on the same Dawn adapter. Both sides get the same seeded
// random f32 inputs, created and realized once outside the timed function; outputs are compared before timing.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { devices, initDevices, memory, stats } from '../index.js';
import {
  ITERATIONS,
  type Suite,
  TIME_MS,
  TOLERANCE,
  WARMUP_ITERATIONS,
  maxError,
  time,
  workloads,
} from './workloads.js';

async function main(): Promise<void> {
  if (process.argv[2] === 'frame') {
    await (await import('./frame.js')).frameBench(process.argv[3]);
    process.exit(0);
  }
  if (process.argv[2] === 'soak') {
    await (await import('./soak.js')).soakBench(process.argv[3], process.argv[4]);
    process.exit(0);
  }
  if (process.argv[2] === 'tc') {
    await (await import('./tc.js')).tcBench(process.argv[3], process.argv[4]);
    process.exit(0);
  }
  if (process.argv[2] === 'beam') {
    await (await import('./beam.js')).beamBench(process.argv[3]);
    process.exit(0);
  }
  const suite: Suite = process.argv[2] === 'webgpu' ? 'webgpu' : 'cpu';
  const req = createRequire(import.meta.url);
  const peers: string[] = [];
  if (suite === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // Node needs a file path to the .wasm binaries, ending in '/'.
    wasm.setWasmPaths(`${dirname(req.resolve('@tensorflow/tfjs-backend-wasm'))}/`);
    peers.push('cpu', 'wasm');
  } else {
    await initDevices();
    if (!devices().some((d) => d.name === 'webgpu'))
      throw new Error('bench webgpu: no WebGPU adapter (see README: software Vulkan)');
    (globalThis as { navigator?: unknown }).navigator = { gpu: (await import('webgpu')).create([]) };
    await import('@tensorflow/tfjs-backend-webgpu');
    peers.push('webgpu');
  }
  const device = suite;
  const rows: string[][] = [],
    problems: string[] = [],
    notes: string[] = [];
  if (suite === 'cpu') {
    await tf.setBackend('wasm');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'),
      threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    notes.push(
      `tfjs ${tf.version_core}; wasm backend: SIMD ${String(simd)}, threads ${String(threads)}. polygrad cpu: ` +
        `generated JS kernels, ${devices().find((d) => d.name === 'cpu')!.description}.`,
    );
  }
  const started = performance.now();
  const only = process.argv[3]; // a workload name's substring: run just those
  for (const w of workloads(suite).filter((x) => !only || x.name.includes(only))) {
    const buffersBefore = memory().buffers;
    const p = w.poly(device);
    const inputs = await Promise.all(p.inputs.map((x) => x.realize()));
    // Untimed check run: compiles every kernel of the expression, and gives the values compared with tfjs below.
    const first = p.run(...inputs),
      ours = await first.data();
    first.dispose(); // a live result would be reused: every timed run must compute
    const k0 = stats.kernels;
    const again = p.run(...inputs);
    await again.data();
    again.dispose();
    const kernelsPerRun = stats.kernels - k0,
      compiles0 = stats.compiles;
    const poly = await time(`polygrad ${w.name}`, async () => {
      const out = p.run(...inputs);
      await out.data();
      out.dispose();
    });
    if (stats.compiles !== compiles0)
      problems.push(`${w.name}: polygrad compiled ${stats.compiles - compiles0} kernel(s) during timing`);
    const row = [w.name, poly.ms.toFixed(2), (w.flops / poly.ms / 1e6).toFixed(2), String(kernelsPerRun)];
    const checks: string[] = [];
    for (const peer of peers) {
      await tf.setBackend(peer);
      await tf.ready();
      const tensorsBefore = tf.memory().numTensors;
      const q = w.tfjs,
        tin = tf.tidy(() => q.inputs());
      const ref = tf.tidy(() => {
        const y = q.run(...tin);
        return q.layout ? q.layout(y) : y;
      });
      const err = maxError(ours, await ref.data());
      ref.dispose();
      checks.push(`tfjs-${peer} max err ${err.toExponential(1)}`);
      if (!(err < TOLERANCE))
        throw new Error(`${w.name}: polygrad and tfjs-${peer} disagree (max error ${err}, tolerance ${TOLERANCE})`);
      const peerT = await time(`tfjs-${peer} ${w.name}`, async () => {
        const y = tf.tidy(() => q.run(...tin));
        await y.data();
        y.dispose();
      });
      row.push(peerT.ms.toFixed(2), (peerT.ms / poly.ms).toFixed(2));
      tin.forEach((x) => x.dispose());
      if (tf.memory().numTensors !== tensorsBefore)
        problems.push(`${w.name}: tfjs-${peer} leaked ${tf.memory().numTensors - tensorsBefore} tensor(s)`);
    }
    inputs.forEach((x) => x.dispose());
    if (memory().buffers !== buffersBefore)
      problems.push(
        `${w.name}: polygrad holds ${memory().buffers - buffersBefore} more buffer(s) after disposing everything`,
      );
    rows.push(row);
    console.log(`${row.join(' | ')}   (${poly.samples} polygrad samples; ${checks.join(', ')})`);
  }
  const head = [
    'workload',
    `polygrad ${suite} ms`,
    'GFLOP/s',
    'kernels',
    ...peers.flatMap((p) => [`tfjs-${p} ms`, `tfjs-${p} / polygrad`]),
  ];
  console.log(`\n| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(
    `\nTimes are tinybench medians (ms) of ≥ ${ITERATIONS} timed runs and ≥ ${TIME_MS} ms per task, after ≥ ` +
      `${WARMUP_ITERATIONS} warm-up runs;`,
  );
  console.log(
    'ratio > 1 means polygrad is faster. polygrad: each run builds the lazy expression from realized inputs and awaits',
  );
  console.log(
    'out.data() (schedule, kernel launches and readback); kernels are compiled once, in the untimed check run before',
  );
  console.log(
    'the warm-up, never during timing. tfjs: tf.tidy(expression) + await data(). "kernels": polygrad launches per run.',
  );
  console.log(
    `Outputs agreed with tfjs within ${TOLERANCE} (max |Δ| / (1 + |ref|)) before timing. Total ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
  if (notes.length) console.log(notes.join('\n'));
  // Leaks and stray compiles are reported, not fatal: the timings stand; a disagreement with tfjs throws above.
  if (problems.length) console.log(`\nWARNINGS:\n${problems.map((s) => `- ${s}`).join('\n')}`);
  process.exit(0);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
