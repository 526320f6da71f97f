// npm run bench [-- webgpu | frame]: polygrad against TensorFlow.js, measured with tinybench in one process, printed as one ratio table.
// cpu suite (default): polygrad CPU vs tfjs-core on the `cpu` and `wasm` (SIMD, single thread) backends;
// webgpu suite: polygrad WebGPU vs tfjs-backend-webgpu on the same Dawn adapter. Both sides get the same seeded
// random f32 inputs, created and realized once outside the timed function; outputs are compared before timing.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import { type Tensor, devices, initDevices, memory, stats, tensor } from '../index.js';

type Suite = 'cpu' | 'webgpu';

interface Workload {
  readonly name: string;
  /** nominal floating-point operations per run (for the GFLOP/s column) */
  readonly flops: number;
  /** polygrad: the inputs (lazy until realized) and the lazy expression built from them */
  readonly poly: (device: string) => { inputs: Tensor[]; run: (...t: Tensor[]) => Tensor };
  /** tfjs: the same input values in tfjs's own layout, the expression, and its output back in polygrad's layout */
  readonly tfjs: { inputs: () => tf.Tensor[]; run: (...t: tf.Tensor[]) => tf.Tensor; layout?: (y: tf.Tensor) => tf.Tensor };
}

/** mulberry32 uniforms through Box–Muller: N(0, 1) values that depend only on (shape, seed), cached so both sides share them. */
const hostCache = new Map<string, Float32Array>();
function host(shape: readonly number[], seed: number): Float32Array {
  const key = `${shape.join('x')}/${seed}`;
  const hit = hostCache.get(key);
  if (hit) return hit;
  let s = (seed * 0x9e3779b9) >>> 0;
  const uniform = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())), th = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(th);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(th);
  }
  hostCache.set(key, out);
  return out;
}
const pt = (shape: number[], seed: number, device: string): Tensor => tensor(host(shape, seed), { shape, device });
const tt = (shape: number[], seed: number): tf.Tensor => tf.tensor(host(shape, seed), shape);
const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

function workloads(suite: Suite): Workload[] {
  const mm = (n: number): Workload => ({
    name: `matmul ${n}x${n}x${n}`, flops: 2 * n ** 3,
    poly: (d) => ({ inputs: [pt([n, n], 1, d), pt([n, n], 2, d)], run: (a, b) => a!.matmul(b!) }),
    tfjs: { inputs: () => [tt([n, n], 1), tt([n, n], 2)], run: (a, b) => tf.matMul(a!, b!) },
  });
  // tfjs gets NHWC input and HWIO filter (its native layout, transposed once outside the timing) and its fused
  // conv2d+bias op; its output is transposed back to NCHW only for the correctness check.
  const conv = (c: number, h: number, w: number): Workload => ({
    name: `conv2d 3x3 ${c}->${c} ${h}x${w} +bias`, flops: 2 * c * c * 9 * h * w,
    poly: (d) => ({ inputs: [pt([1, c, h, w], 3, d), pt([c, c, 3, 3], 4, d), pt([c], 5, d)], run: (x, k, b) => x!.conv2d(k!, b!, { padding: 1 }) }),
    tfjs: {
      inputs: () => [tf.transpose(tt([1, c, h, w], 3), [0, 2, 3, 1]), tf.transpose(tt([c, c, 3, 3], 4), [2, 3, 1, 0]), tt([c], 5)],
      run: (x, k, b) => tf.fused.conv2d({ x: x as tf.Tensor4D, filter: k as tf.Tensor4D, bias: b!, strides: 1, pad: 1 }),
      layout: (y) => tf.transpose(y, [0, 3, 1, 2]),
    },
  });
  // tfjs has no groupNorm: reshape to [N, G, rest], moments, normalize, reshape back (NCHW throughout).
  const gn = (c: number, h: number, w: number): Workload => ({
    name: `groupNorm(32)+silu 1x${c}x${h}x${w}`, flops: 10 * c * h * w,
    poly: (d) => ({ inputs: [pt([1, c, h, w], 6, d)], run: (x) => x!.groupNorm(32).silu() }),
    tfjs: {
      inputs: () => [tt([1, c, h, w], 6)],
      run: (x) => {
        const g = tf.reshape(x!, [1, 32, -1]), { mean, variance } = tf.moments(g, 2, true);
        return silu(tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [1, c, h, w]));
      },
    },
  });
  if (suite === 'cpu') {
    const n = 1024 * 1024;
    return [
      { name: 'elementwise ((a*b+c).relu()*2).exp() 1M', flops: 5 * n,
        poly: (d) => ({ inputs: [pt([n], 7, d), pt([n], 8, d), pt([n], 9, d)], run: (a, b, c) => a!.mul(b!).add(c!).relu().mul(2).exp() }),
        tfjs: { inputs: () => [tt([n], 7), tt([n], 8), tt([n], 9)], run: (a, b, c) => tf.exp(tf.mul(tf.relu(tf.add(tf.mul(a!, b!), c!)), 2)) } },
      mm(256), mm(512), conv(64, 32, 32), gn(64, 32, 32),
      { name: 'softmax(-1) 256x1024', flops: 5 * 256 * 1024,
        poly: (d) => ({ inputs: [pt([256, 1024], 10, d)], run: (x) => x!.softmax(-1) }),
        tfjs: { inputs: () => [tt([256, 1024], 10)], run: (x) => tf.softmax(x!) } },
    ];
  }
  return [
    mm(512), mm(1024), conv(64, 64, 48), gn(192, 64, 48),
    { name: 'attention 768 tok, 12x32', flops: 4 * 12 * 768 * 768 * 32,
      poly: (d) => ({ inputs: [1, 2, 3].map((s) => pt([12, 768, 32], 10 + s, d)), run: (q, k, v) => q!.scaledDotProductAttention(k!, v!) }),
      tfjs: { inputs: () => [11, 12, 13].map((s) => tt([12, 768, 32], s)),
        run: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(32))), v!) } },
    // the LSTM's step: one row against a 4096-wide weight (few outputs, long reduces)
    { name: 'gemv 1x4096 @ 4096x4096', flops: 2 * 4096 * 4096,
      poly: (d) => ({ inputs: [pt([1, 4096], 14, d), pt([4096, 4096], 15, d)], run: (x, w) => x!.matmul(w!) }),
      tfjs: { inputs: () => [tt([1, 4096], 14), tt([4096, 4096], 15)], run: (x, w) => tf.matMul(x!, w!) } },
    { name: 'softmax 64x16384', flops: 5 * 64 * 16384,
      poly: (d) => ({ inputs: [pt([64, 16384], 16, d)], run: (x) => x!.softmax(-1) }),
      tfjs: { inputs: () => [tt([64, 16384], 16)], run: (x) => tf.softmax(x!) } },
  ];
}

/** Timing budget per task: at least TIME_MS and at least ITERATIONS timed runs (slow tasks stop at ITERATIONS). */
const TIME_MS = 1000, ITERATIONS = 5, WARMUP_MS = 200, WARMUP_ITERATIONS = 2;

/** Median latency (ms) of `fn` and the number of timed samples, via tinybench. */
async function time(name: string, fn: () => Promise<void>): Promise<{ ms: number; samples: number }> {
  const bench = new Bench({ name, time: TIME_MS, iterations: ITERATIONS, warmupTime: WARMUP_MS, warmupIterations: WARMUP_ITERATIONS, throws: true });
  bench.add(name, fn, { async: true });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state}`);
  return { ms: r.latency.p50, samples: r.latency.samplesCount };
}

/** max |ours - ref| / (1 + |ref|) over all elements; NaN/Inf mismatches give Infinity. */
function maxError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) return Infinity;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ours[i]! - ref[i]!) / (1 + Math.abs(ref[i]!));
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  return err;
}

const TOLERANCE = 1e-3;

async function main(): Promise<void> {
  if (process.argv[2] === 'frame') { await (await import('./frame.js')).frameBench(process.argv[3]); process.exit(0); }
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
    if (!devices().some((d) => d.name === 'webgpu')) throw new Error('bench webgpu: no WebGPU adapter (see README: software Vulkan)');
    (globalThis as { navigator?: unknown }).navigator = { gpu: (await import('webgpu')).create([]) };
    await import('@tensorflow/tfjs-backend-webgpu');
    peers.push('webgpu');
  }
  const device = suite;
  const rows: string[][] = [], problems: string[] = [], notes: string[] = [];
  if (suite === 'cpu') {
    await tf.setBackend('wasm');
    await tf.ready();
    const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'), threads = await tf.env().getAsync('WASM_HAS_MULTITHREAD_SUPPORT');
    notes.push(`tfjs ${tf.version_core}; wasm backend: SIMD ${String(simd)}, threads ${String(threads)}. polygrad cpu: generated JS kernels, ${devices().find((d) => d.name === 'cpu')!.description}.`);
  }
  const started = performance.now();
  for (const w of workloads(suite)) {
    const buffersBefore = memory().buffers;
    const p = w.poly(device);
    const inputs = await Promise.all(p.inputs.map((x) => x.realize()));
    // Untimed check run: compiles every kernel of the expression, and gives the values compared with tfjs below.
    const first = p.run(...inputs), ours = await first.data();
    first.dispose();   // a live result would be reused: every timed run must compute
    const k0 = stats.kernels;
    const again = p.run(...inputs);
    await again.data();
    again.dispose();
    const kernelsPerRun = stats.kernels - k0, compiles0 = stats.compiles;
    const poly = await time(`polygrad ${w.name}`, async () => { const out = p.run(...inputs); await out.data(); out.dispose(); });
    if (stats.compiles !== compiles0) problems.push(`${w.name}: polygrad compiled ${stats.compiles - compiles0} kernel(s) during timing`);
    const row = [w.name, poly.ms.toFixed(2), (w.flops / poly.ms / 1e6).toFixed(2), String(kernelsPerRun)];
    const checks: string[] = [];
    for (const peer of peers) {
      await tf.setBackend(peer);
      await tf.ready();
      const tensorsBefore = tf.memory().numTensors;
      const q = w.tfjs, tin = tf.tidy(() => q.inputs());
      const ref = tf.tidy(() => { const y = q.run(...tin); return q.layout ? q.layout(y) : y; });
      const err = maxError(ours, await ref.data());
      ref.dispose();
      checks.push(`tfjs-${peer} max err ${err.toExponential(1)}`);
      if (!(err < TOLERANCE)) throw new Error(`${w.name}: polygrad and tfjs-${peer} disagree (max error ${err}, tolerance ${TOLERANCE})`);
      const peerT = await time(`tfjs-${peer} ${w.name}`, async () => { const y = tf.tidy(() => q.run(...tin)); await y.data(); y.dispose(); });
      row.push(peerT.ms.toFixed(2), (peerT.ms / poly.ms).toFixed(2));
      tin.forEach((x) => x.dispose());
      if (tf.memory().numTensors !== tensorsBefore) problems.push(`${w.name}: tfjs-${peer} leaked ${tf.memory().numTensors - tensorsBefore} tensor(s)`);
    }
    inputs.forEach((x) => x.dispose());
    if (memory().buffers !== buffersBefore) problems.push(`${w.name}: polygrad holds ${memory().buffers - buffersBefore} more buffer(s) after disposing everything`);
    rows.push(row);
    console.log(`${row.join(' | ')}   (${poly.samples} polygrad samples; ${checks.join(', ')})`);
  }
  const head = ['workload', `polygrad ${suite} ms`, 'GFLOP/s', 'kernels', ...peers.flatMap((p) => [`tfjs-${p} ms`, `tfjs-${p} / polygrad`])];
  console.log(`\n| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log(`\nTimes are tinybench medians (ms) of ≥ ${ITERATIONS} timed runs and ≥ ${TIME_MS} ms per task, after ≥ ${WARMUP_ITERATIONS} warm-up runs;`);
  console.log('ratio > 1 means polygrad is faster. polygrad: each run builds the lazy expression from realized inputs and awaits');
  console.log('out.data() (schedule, kernel launches and readback); kernels are compiled once, in the untimed check run before');
  console.log('the warm-up, never during timing. tfjs: tf.tidy(expression) + await data(). "kernels": polygrad launches per run.');
  console.log(`Outputs agreed with tfjs within ${TOLERANCE} (max |Δ| / (1 + |ref|)) before timing. Total ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  if (notes.length) console.log(notes.join('\n'));
  // Leaks and stray compiles are reported, not fatal: the timings stand; a disagreement with tfjs throws above.
  if (problems.length) console.log(`\nWARNINGS:\n${problems.map((s) => `- ${s}`).join('\n')}`);
  process.exit(0);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
