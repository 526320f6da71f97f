// npm run bench -- frame [cpu|webgpu|full]: the NeuralOS frame loop, with and without jit, in one run.
// Tiny config (seeded random weights) at 1, 8 and 32 DDIM steps on cpu and webgpu (when an adapter exists): every
// frame gets a new random event (the cursor moves, clicks, keys). Per frame: launches, compiles after warm-up, wall
// ms (tinybench median), kernel ms (profiled frames: device timestamps on webgpu, the host clock around each kernel
// on the cpu), host ms (cpu: wall − kernel, the kernels run on the host thread; webgpu: time inside polygrad's stage
// calls, which return once their launches are submitted) and host µs per launch. Replay: a captured chain of 344
// small kernels, the host cost per replayed launch alone. Full config: on a device whose kernels do nothing (CUDA's
// capabilities and kernels), the cold first frame at 32 steps (load, schedule, render) and later frames' host time.
// `frame cpu-full`: the full config run on the CPU in f16 weights (a state step and a UNet call, peak memory).
import { Bench } from 'tinybench';
import {
  CpuBackend,
  type Tensor,
  cat,
  getDevice,
  initDevices,
  jit,
  memory,
  profile,
  randn,
  realize,
  registerDevice,
  resetPeak,
  setJit,
  stats,
  variable,
} from '../index.js';

import { NullBackend } from '../backends/null.js';
import { cudaLanguage } from '../codegen/cuda.js';
import { type NeuralOSConfig, fullConfig, tinyConfig } from '../models/neuralos/config.js';
import { KEYS } from '../models/neuralos/keys.js';
import { NeuralOS, type NeuralOSEvent } from '../models/neuralos/neuralos.js';

/** A seeded stream of events in the reference format: the cursor always moves, sometimes a click or a key. */
export function events(cfg: NeuralOSConfig, seed: number): () => NeuralOSEvent {
  let s = seed >>> 0;
  const r = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  return () => ({
    x: Math.floor(r() * cfg.screen.width),
    y: Math.floor(r() * cfg.screen.height),
    is_left_click: r() < 0.2,
    keys_down: r() < 0.2 ? [KEYS[Math.floor(r() * KEYS.length)]!] : [],
    keys_up: r() < 0.2 ? [KEYS[Math.floor(r() * KEYS.length)]!] : [],
  });
}

/** Wraps the model's stage functions to add up the wall time spent in them (the host's side of a frame). */
function timeStages(model: NeuralOS): { ms: number } {
  const acc = { ms: 0 };
  for (const name of ['stateStep', 'denoise', 'ddimStep', 'decode', 'noise'] as const) {
    const f = model[name] as unknown as (...a: unknown[]) => Promise<unknown>;
    Object.defineProperty(model, name, {
      value: async (...a: unknown[]) => {
        const t = performance.now();
        try {
          return await f(...a);
        } finally {
          acc.ms += performance.now() - t;
        }
      },
    });
  }
  return acc;
}

interface Row {
  device: string;
  steps: number;
  jit: boolean;
  launches: number;
  compiles: number;
  wall: number;
  kernel: number;
  host: number;
}

async function tiny(device: string, rows: Row[]): Promise<void> {
  for (const jit of [false, true]) {
    setJit(jit);
    const model = await NeuralOS.load(tinyConfig, { device }),
      stage = timeStages(model),
      next = events(tinyConfig, 1);
    const sync = getDevice(device).caps.globalsAsLoops; // kernels run on the host thread: their time is in the calls
    for (const steps of [1, 8, 32]) {
      for (let i = 0; i < 3; i++) await model.step(next(), { steps }); // warm-up: compiles and captures
      await profile(() => model.step(next(), { steps })); // and the timed path
      const c0 = { kernels: stats.kernels, compiles: stats.compiles, stage: stage.ms };
      let frames = 0;
      const bench = new Bench({ time: 1500, iterations: 5, warmupIterations: 1, warmupTime: 0, throws: true });
      bench.add(
        'frame',
        async () => {
          await model.step(next(), { steps });
          frames++;
        },
        { async: true },
      );
      await bench.run();
      const wall = bench.tasks[0]!.result;
      if (wall.state !== 'completed') throw new Error(`frame ${device} ${steps}: ${wall.state}`);
      const launches = (stats.kernels - c0.kernels) / frames,
        compiles = (stats.compiles - c0.compiles) / frames;
      const stageMs = (stage.ms - c0.stage) / frames;
      // kernel time: the median of 5 profiled frames (after one that warms the timed path)
      const perFrame: number[] = [];
      for (let i = 0; i < 6; i++) {
        const { events: evs } = await profile(() => model.step(next(), { steps }));
        if (i) perFrame.push(evs.reduce((a, e) => a + e.ms, 0));
      }
      const kernel = perFrame.sort((a, b) => a - b)[2]!;
      rows.push({
        device,
        steps,
        jit,
        launches,
        compiles,
        wall: wall.latency.p50,
        kernel,
        host: sync ? wall.latency.p50 - kernel : stageMs,
      });
      const r = rows.at(-1)!;
      console.log(
        `${device} ${steps} steps ${jit ? 'jit' : 'no jit'}: ${launches} launches, ${compiles} compiles, wall ` +
          `${r.wall.toFixed(1)} ms, kernel ${kernel.toFixed(1)} ms, host ${r.host.toFixed(1)} ms ` +
          `(${((1000 * r.host) / launches).toFixed(1)} µs/launch)`,
      );
    }
  }
  setJit(true);
}

/** The full config on a device that runs nothing: what polygrad itself costs per frame at the real model's size. */
async function full(): Promise<void> {
  const caps = {
    ...new CpuBackend().caps,
    maxBuffers: 64,
    statusBinding: true,
    maxBufferBytes: 2 ** 48,
    globalsAsLoops: false,
    timer: 'device' as const,
    workgroupSize: 256,
    maxGrid: 2 ** 31 - 1,
    threads: 132 * 2048,
  };
  registerDevice(new NullBackend('null', caps, cudaLanguage, 'CUDA'));
  for (const jit of [true, false]) {
    setJit(jit);
    const t0 = performance.now(),
      next = events(fullConfig, 2);
    const model = await NeuralOS.load(fullConfig, { device: 'null' });
    const loaded = performance.now();
    await model.step(next(), { steps: 32 });
    const cold = performance.now() - loaded;
    const k0 = stats.kernels,
      times: number[] = [];
    const n = jit ? 8 : 2;
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      await model.step(next(), { steps: 32 });
      times.push(performance.now() - t);
    }
    times.sort((a, b) => a - b);
    console.log(
      `full config, 32 steps, ${jit ? 'jit' : 'no jit'}: load ${(loaded - t0).toFixed(0)} ms, first frame ` +
        `${(cold / 1000).toFixed(2)} s, ` +
        `${(stats.kernels - k0) / n} launches/frame, host ${times[Math.floor(n / 2)]!.toFixed(1)} ms/frame (median ` +
        `of ${n}, frames 2-${n + 1})`,
    );
  }
  setJit(true);
}

/** Host µs per replayed launch: a captured chain of small kernels (172 max-and-subtract pairs on 16 numbers). */
async function replay(device: string): Promise<void> {
  const x = await randn([16], { seed: 1, device }).realize();
  const f = jit((a: Tensor, s: Tensor) => {
    let y = a;
    for (let i = 0; i < 172; i++) y = y.mul(s).sub(y.max()).contiguous();
    return y;
  });
  for (let i = 0; i < 3; i++) (await f(x, variable(i, { device }))).dispose();
  const bench = new Bench({ time: 1000, iterations: 50, throws: true });
  let i = 0;
  bench.add(
    'replay',
    async () => {
      (await f(x, variable(i++, { device }))).dispose();
    },
    { async: true },
  );
  await bench.run();
  const ms =
    bench.tasks[0]!.result.state === 'completed'
      ? (bench.tasks[0]!.result as { latency: { p50: number } }).latency.p50
      : NaN;
  await getDevice(device).sync();
  console.log(
    `replay on ${device}: ${f.stats.launches} launches in ${ms.toFixed(3)} ms, ` +
      `${((1000 * ms) / f.stats.launches).toFixed(2)} µs per launch (host; the kernels are 16-element)`,
  );
  f.dispose();
}

/** The full config on the CPU backend in f16 weights: load, one state step, one UNet call, with peak memory. */
async function cpuFull(): Promise<void> {
  const gb = (n: number) => `${(n / 1e9).toFixed(2)} GB`;
  resetPeak();
  let t = performance.now();
  const model = await NeuralOS.load(fullConfig, { device: 'cpu', dtype: 'f16' });
  console.log(
    `full config on cpu, f16 weights: loaded (seeded random weights computed) in ` +
      `${((performance.now() - t) / 1000).toFixed(1)} s, ${gb(memory().bytes)} live`,
  );
  const { rnn, unet, cfg } = model,
    { height: h, width: w } = { height: cfg.screen.height / 8, width: cfg.screen.width / 8 };
  const ev = rnn.inputs({ x: 100, y: 200, left: false, right: false, keys: new Array(cfg.rnn.keys).fill(0) });
  t = performance.now();
  const { out, state } = rnn.step(rnn.initial.padding, { ...ev, prevLatent: model.paddingLatent, isPadding: false });
  await realize(out, ...Object.values(state));
  const stepMs = performance.now() - t;
  const x = await randn([1, cfg.latentChannels, h, w], { seed: 1 }).realize();
  t = performance.now();
  const x0 = await model.unet.forward(cat([x, out], 1), 500).realize();
  const unetMs = performance.now() - t;
  console.log(
    `  state step ${(stepMs / 1000).toFixed(2)} s (first run: compiles included), UNet call ` +
      `${(unetMs / 1000).toFixed(2)} s (first run), peak ${gb(memory().peak)}`,
  );
  t = performance.now();
  await model.unet.forward(cat([x, out], 1), 499).realize();
  console.log(
    `  UNet call again ${((performance.now() - t) / 1000).toFixed(2)} s; x0 mean |x| ` +
      `${(Array.from(await x0.data()).reduce((a, v) => a + Math.abs(v), 0) / x0.numel).toFixed(3)}, peak ` +
      `${gb(memory().peak)}`,
  );
  void unet;
}

export async function frameBench(which: string | undefined): Promise<void> {
  if (which === 'cpu-full') return cpuFull();
  await initDevices();
  const rows: Row[] = [];
  const devs =
    which === 'full'
      ? []
      : which
        ? [which]
        : ['cpu', ...(getDevice().name === 'webgpu' || (await initDevices()).includes('webgpu') ? ['webgpu'] : [])];
  for (const d of devs) await replay(d);
  for (const d of devs) await tiny(d, rows);
  if (rows.length) {
    console.log(
      '\n| device | steps | jit | launches/frame | compiles/frame | wall ms | kernel ms | host ms | host µs/launch ' +
        '|\n|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of rows)
      console.log(
        `| ${r.device} | ${r.steps} | ${r.jit ? 'yes' : 'no'} | ${r.launches} | ${r.compiles} | ` +
          `${r.wall.toFixed(1)} | ${r.kernel.toFixed(1)} | ${r.host.toFixed(1)} | ` +
          `${((1000 * r.host) / r.launches).toFixed(1)} |`,
      );
  }
  if (!which || which === 'full') await full();
}
