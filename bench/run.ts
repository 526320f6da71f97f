// npm run bench [-- webgpu]: polygrad against TensorFlow.js measured in the same process, as a ratio table.
// cpu suite: polygrad CPU vs tfjs `cpu` and `wasm`; webgpu suite: polygrad WebGPU vs tfjs-backend-webgpu
// on the same Dawn adapter. Each task builds its expression from realized inputs and awaits the data.
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import { type Tensor, devices, initDevices, tensor } from '../index.js';

interface Workload {
  readonly name: string;
  readonly flops: number;
  /** polygrad: inputs and the (lazy) expression */
  readonly poly: (device: string) => { inputs: Tensor[]; run: (...t: Tensor[]) => Tensor };
  /** tfjs: the same input values (in its own layout), the expression, and the output back in polygrad's layout */
  readonly tfjs: () => { inputs: tf.Tensor[]; run: (...t: tf.Tensor[]) => tf.Tensor; layout?: (y: tf.Tensor) => tf.Tensor };
}

/** The same deterministic values for both sides. */
const host = (shape: number[], seed: number): Float32Array => Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(seed * 1000 + i * 0.37));
const randn = (shape: number[], { seed, device }: { seed: number; device: string }): Tensor => tensor(host(shape, seed), { shape, device });
const t = (shape: number[], seed: number): tf.Tensor => tf.tensor(host(shape, seed), shape);
const silu = (x: tf.Tensor) => tf.mul(x, tf.sigmoid(x));

function workloads(suite: 'cpu' | 'webgpu'): Workload[] {
  const mm = (n: number): Workload => ({
    name: `matmul ${n}`, flops: 2 * n ** 3,
    poly: (d) => ({ inputs: [randn([n, n], { seed: 1, device: d }), randn([n, n], { seed: 2, device: d })], run: (a, b) => a!.matmul(b!) }),
    tfjs: () => ({ inputs: [t([n, n], 1), t([n, n], 2)], run: (a, b) => tf.matMul(a!, b!) }),
  });
  const conv = (c: number, h: number, w: number): Workload => ({
    name: `conv2d 3x3 ${c}->${c} @ ${h}x${w}`, flops: 2 * c * c * 9 * h * w,
    poly: (d) => ({ inputs: [randn([1, c, h, w], { seed: 3, device: d }), randn([c, c, 3, 3], { seed: 4, device: d }), randn([c], { seed: 5, device: d })], run: (x, k, b) => x!.conv2d(k!, b!, { padding: 1 }) }),
    tfjs: () => ({
      inputs: [tf.transpose(t([1, c, h, w], 3), [0, 2, 3, 1]), tf.transpose(t([c, c, 3, 3], 4), [2, 3, 1, 0]), t([c], 5)],
      run: (x, k, b) => tf.add(tf.conv2d(x as tf.Tensor4D, k as tf.Tensor4D, 1, 'same'), b!),
      layout: (y) => tf.transpose(y, [0, 3, 1, 2]),
    }),
  });
  const gn = (c: number, h: number, w: number): Workload => ({
    name: `groupNorm(32)+silu ${c}x${h}x${w}`, flops: 10 * c * h * w,
    poly: (d) => ({ inputs: [randn([1, c, h, w], { seed: 6, device: d })], run: (x) => x!.groupNorm(32).silu() }),
    tfjs: () => ({
      inputs: [t([1, c, h, w], 6)],
      run: (x) => {
        const g = tf.reshape(x!, [1, 32, -1]), { mean, variance } = tf.moments(g, 2, true);
        return silu(tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [1, c, h, w]));
      },
    }),
  });
  if (suite === 'cpu') {
    return [
      { name: 'elementwise chain 1M', flops: 5 * 2 ** 20,
        poly: (d) => ({ inputs: [randn([1024, 1024], { seed: 7, device: d }), randn([1024, 1024], { seed: 8, device: d })], run: (a, b) => a!.mul(b!).add(1).relu().mul(0.5).exp() }),
        tfjs: () => ({ inputs: [t([1024, 1024], 7), t([1024, 1024], 8)], run: (a, b) => tf.exp(tf.mul(tf.relu(tf.add(tf.mul(a!, b!), 1)), 0.5)) }) },
      mm(256), mm(512), conv(64, 32, 32), gn(64, 32, 32),
      { name: 'softmax 256x1024', flops: 5 * 2 ** 18,
        poly: (d) => ({ inputs: [randn([256, 1024], { seed: 9, device: d })], run: (x) => x!.softmax(-1) }),
        tfjs: () => ({ inputs: [t([256, 1024], 9)], run: (x) => tf.softmax(x!) }) },
    ];
  }
  return [
    mm(512), mm(1024), conv(64, 64, 48), gn(192, 64, 48),
    { name: 'attention 768 tok, 12x32', flops: 4 * 12 * 768 * 768 * 32,
      poly: (d) => ({ inputs: [1, 2, 3].map((s) => randn([12, 768, 32], { seed: 10 + s, device: d })), run: (q, k, v) => q!.scaledDotProductAttention(k!, v!) }),
      tfjs: () => ({ inputs: [11, 12, 13].map((s) => t([12, 768, 32], s)), run: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(32))), v!) }) },
  ];
}

async function time(name: string, fn: () => Promise<void>): Promise<number> {
  const bench = new Bench({ name, time: 1500, iterations: 3, warmupIterations: 2 });
  bench.add(name, fn);
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state}`);
  return r.latency.p50;
}

async function main(): Promise<void> {
  const suite = process.argv[2] === 'webgpu' ? 'webgpu' : 'cpu';
  const req = createRequire(import.meta.url);
  const peers: string[] = [];
  if (suite === 'cpu') {
    await import('@tensorflow/tfjs-backend-cpu');
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
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
  const rows: string[][] = [];
  for (const w of workloads(suite)) {
    const p = w.poly(device);
    const inputs = await Promise.all(p.inputs.map((x) => x.realize()));
    const first = p.run(...inputs), ours = await first.data();
    first.dispose();   // a live result would be reused: every timed run must compute
    const polyMs = await time(`polygrad ${w.name}`, async () => { const out = p.run(...inputs); await out.data(); out.dispose(); });
    const row = [w.name, polyMs.toFixed(2), (w.flops / polyMs / 1e6).toFixed(2)];
    for (const peer of peers) {
      await tf.setBackend(peer);
      await tf.ready();
      const q = w.tfjs();
      const y0 = q.run(...q.inputs), ref = await (q.layout ? q.layout(y0) : y0).data();
      let err = 0;
      ref.forEach((v, i) => { err = Math.max(err, Math.abs(v - ours[i]!) / (1 + Math.abs(v))); });
      if (ref.length !== ours.length || !(err < 1e-3)) throw new Error(`${w.name}: polygrad and tfjs-${peer} disagree (max error ${err})`);
      const peerMs = await time(`tfjs-${peer} ${w.name}`, async () => { const y = tf.tidy(() => q.run(...q.inputs)); await y.data(); y.dispose(); });
      row.push(peerMs.toFixed(2), (peerMs / polyMs).toFixed(2));
      q.inputs.forEach((x) => x.dispose());
    }
    rows.push(row);
    console.log(row.join(' | '));
    inputs.forEach((x) => x.dispose());
  }
  const head = ['workload', `polygrad ${suite} ms`, 'GFLOP/s', ...peers.flatMap((p) => [`tfjs-${p} ms`, `tfjs-${p} / polygrad`])];
  console.log(`\n| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|`);
  for (const r of rows) console.log(`| ${r.join(' | ')} |`);
  console.log('\nmedian of ≥ 3 timed runs after 2 warm-ups (compiles happen in warm-up); ratio > 1 means polygrad is faster.');
  process.exit(0);
}

main().catch((e: unknown) => { console.error(e); process.exit(1); });
