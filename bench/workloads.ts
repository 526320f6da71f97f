// The workloads of the benchmark suites (polygrad and the same computation in tfjs, on shared seeded inputs) and
// the timing rule every suite uses: tinybench medians.
import { Bench } from 'tinybench';
import * as tf from '@tensorflow/tfjs-core';
import { type Tensor, tensor } from '../index.js';

export type Suite = 'cpu' | 'webgpu';

export interface Workload {
  readonly name: string;
  /** nominal floating-point operations per run (for the GFLOP/s column) */
  readonly flops: number;
  /** polygrad: the inputs (lazy until realized) and the lazy expression built from them */
  readonly poly: (device: string) => { inputs: Tensor[]; run: (...t: Tensor[]) => Tensor };
  /** tfjs: the same input values in tfjs's own layout, the expression, and its output back in polygrad's layout */
  readonly tfjs: {
    inputs: () => tf.Tensor[];
    run: (...t: tf.Tensor[]) => tf.Tensor;
    layout?: (y: tf.Tensor) => tf.Tensor;
  };
}

/**
 * mulberry32 uniforms through Box–Muller: N(0, 1) values that depend only on (shape, seed), cached so both sides share
 * them.
 */
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
    const r = Math.sqrt(-2 * Math.log(1 - uniform())),
      th = 2 * Math.PI * uniform();
    out[i] = r * Math.cos(th);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(th);
  }
  hostCache.set(key, out);
  return out;
}
const pt = (shape: number[], seed: number, device: string): Tensor => tensor(host(shape, seed), { shape, device });
const tt = (shape: number[], seed: number): tf.Tensor => tf.tensor(host(shape, seed), shape);
const silu = (x: tf.Tensor): tf.Tensor => tf.mul(x, tf.sigmoid(x));

export function workloads(suite: Suite): Workload[] {
  const mm = (n: number): Workload => ({
    name: `matmul ${n}x${n}x${n}`,
    flops: 2 * n ** 3,
    poly: (d) => ({ inputs: [pt([n, n], 1, d), pt([n, n], 2, d)], run: (a, b) => a!.matmul(b!) }),
    tfjs: { inputs: () => [tt([n, n], 1), tt([n, n], 2)], run: (a, b) => tf.matMul(a!, b!) },
  });
  // tfjs gets NHWC input and HWIO filter (its native layout, transposed once outside the timing) and its fused
  // conv2d+bias op; its output is transposed back to NCHW only for the correctness check.
  const conv = (c: number, h: number, w: number): Workload => ({
    name: `conv2d 3x3 ${c}->${c} ${h}x${w} +bias`,
    flops: 2 * c * c * 9 * h * w,
    poly: (d) => ({
      inputs: [pt([1, c, h, w], 3, d), pt([c, c, 3, 3], 4, d), pt([c], 5, d)],
      run: (x, k, b) => x!.conv2d(k!, b!, { padding: 1 }),
    }),
    tfjs: {
      inputs: () => [
        tf.transpose(tt([1, c, h, w], 3), [0, 2, 3, 1]),
        tf.transpose(tt([c, c, 3, 3], 4), [2, 3, 1, 0]),
        tt([c], 5),
      ],
      run: (x, k, b) =>
        tf.fused.conv2d({ x: x as tf.Tensor4D, filter: k as tf.Tensor4D, bias: b!, strides: 1, pad: 1 }),
      layout: (y) => tf.transpose(y, [0, 3, 1, 2]),
    },
  });
  // tfjs has no groupNorm: reshape to [N, G, rest], moments, normalize, reshape back (NCHW throughout).
  const gn = (c: number, h: number, w: number): Workload => ({
    name: `groupNorm(32)+silu 1x${c}x${h}x${w}`,
    flops: 10 * c * h * w,
    poly: (d) => ({ inputs: [pt([1, c, h, w], 6, d)], run: (x) => x!.groupNorm(32).silu() }),
    tfjs: {
      inputs: () => [tt([1, c, h, w], 6)],
      run: (x) => {
        const g = tf.reshape(x!, [1, 32, -1]),
          { mean, variance } = tf.moments(g, 2, true);
        return silu(tf.reshape(tf.mul(tf.sub(g, mean), tf.rsqrt(tf.add(variance, 1e-5))), [1, c, h, w]));
      },
    },
  });
  const n = 1024 * 1024;
  const elementwise: Workload = {
    name: 'elementwise ((a*b+c).relu()*2).exp() 1M',
    flops: 5 * n,
    poly: (d) => ({
      inputs: [pt([n], 7, d), pt([n], 8, d), pt([n], 9, d)],
      run: (a, b, c) => a!.mul(b!).add(c!).relu().mul(2).exp(),
    }),
    tfjs: {
      inputs: () => [tt([n], 7), tt([n], 8), tt([n], 9)],
      run: (a, b, c) => tf.exp(tf.mul(tf.relu(tf.add(tf.mul(a!, b!), c!)), 2)),
    },
  };
  if (suite === 'cpu') {
    return [
      elementwise,
      mm(256),
      mm(512),
      conv(64, 32, 32),
      gn(64, 32, 32),
      {
        name: 'softmax(-1) 256x1024',
        flops: 5 * 256 * 1024,
        poly: (d) => ({ inputs: [pt([256, 1024], 10, d)], run: (x) => x!.softmax(-1) }),
        tfjs: { inputs: () => [tt([256, 1024], 10)], run: (x) => tf.softmax(x!) },
      },
    ];
  }
  return [
    elementwise,
    mm(512),
    mm(1024),
    conv(64, 64, 48),
    gn(192, 64, 48),
    {
      name: 'attention 768 tok, 12x32',
      flops: 4 * 12 * 768 * 768 * 32,
      poly: (d) => ({
        inputs: [1, 2, 3].map((s) => pt([12, 768, 32], 10 + s, d)),
        run: (q, k, v) => q!.scaledDotProductAttention(k!, v!),
      }),
      tfjs: {
        inputs: () => [11, 12, 13].map((s) => tt([12, 768, 32], s)),
        run: (q, k, v) => tf.matMul(tf.softmax(tf.mul(tf.matMul(q!, k!, false, true), 1 / Math.sqrt(32))), v!),
      },
    },
    // the LSTM's step: one row against a 4096-wide weight (few outputs, long reduces)
    {
      name: 'gemv 1x4096 @ 4096x4096',
      flops: 2 * 4096 * 4096,
      poly: (d) => ({ inputs: [pt([1, 4096], 14, d), pt([4096, 4096], 15, d)], run: (x, w) => x!.matmul(w!) }),
      tfjs: { inputs: () => [tt([1, 4096], 14), tt([4096, 4096], 15)], run: (x, w) => tf.matMul(x!, w!) },
    },
    {
      name: 'softmax 64x16384',
      flops: 5 * 64 * 16384,
      poly: (d) => ({ inputs: [pt([64, 16384], 16, d)], run: (x) => x!.softmax(-1) }),
      tfjs: { inputs: () => [tt([64, 16384], 16)], run: (x) => tf.softmax(x!) },
    },
  ];
}

/** Timing budget per task: at least TIME_MS and at least ITERATIONS timed runs (slow tasks stop at ITERATIONS). */
export const TIME_MS = 1000,
  ITERATIONS = 5,
  WARMUP_MS = 200,
  WARMUP_ITERATIONS = 2;

/** Median latency (ms) of `fn` and the number of timed samples, via tinybench. */
export async function time(name: string, fn: () => Promise<void>): Promise<{ ms: number; samples: number }> {
  const bench = new Bench({
    name,
    time: TIME_MS,
    iterations: ITERATIONS,
    warmupTime: WARMUP_MS,
    warmupIterations: WARMUP_ITERATIONS,
    throws: true,
  });
  bench.add(name, fn, { async: true });
  await bench.run();
  const r = bench.tasks[0]!.result;
  if (r.state !== 'completed') throw new Error(`${name}: ${r.state}`);
  return { ms: r.latency.p50, samples: r.latency.samplesCount };
}

/** max |ours - ref| / (1 + |ref|) over all elements; NaN/Inf mismatches give Infinity. */
export function maxError(ours: ArrayLike<number>, ref: ArrayLike<number>): number {
  if (ours.length !== ref.length) return Infinity;
  let err = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(ours[i]! - ref[i]!) / (1 + Math.abs(ref[i]!));
    err = Number.isNaN(e) ? Infinity : Math.max(err, e);
  }
  return err;
}

export const TOLERANCE = 1e-3;
