// What a NeuralOS frame asks of a device, without running it: the model is built on a device that takes the target's
// limits but runs nothing (backends/null.ts), each stage is scheduled and sharded as it would be there, and frames are
// replayed to count launches and the peak of device memory. It answers "does the model fit this GPU?".
import { type Tensor, CpuBackend, cat, registerDevice, zeros } from '../../index.js';
import type { Caps } from '../../backends/backend.js';
import { storageOf } from '../../backends/backend.js';
import { NullBackend } from '../../backends/null.js';
import { cudaFor, cudaTensorCores } from '../../codegen/cuda.js';
import { itemsize } from '../../codegen/dtype.js';
import { ShardError, chunkElems, rowElems, shard } from '../../codegen/shard.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { schedule } from '../../runtime/plan.js';
import { type NeuralOSConfig, latentSize } from './config.js';
import { ddimUpdate, scaleVars, timestepVar } from './ddim.js';
import { NeuralOS } from './neuralos.js';
import type { WeightDtype } from '../weights/state.js';

/** Device limits to plan for: WebGPU's defaults (what a browser guarantees), Mesa's lavapipe, an NVIDIA GPU. */
export const limitPresets: Record<string, Partial<Caps> & { readonly target: 'wgsl' | 'cuda' }> = {
  'webgpu-default': {
    target: 'wgsl',
    maxBuffers: 8,
    maxBufferBytes: 128 * 2 ** 20,
    maxGrid: 65535,
    workgroupSize: 256,
    threads: 65536,
  },
  lavapipe: {
    target: 'wgsl',
    maxBuffers: 16,
    maxBufferBytes: 128 * 2 ** 20,
    maxGrid: 65535,
    workgroupSize: 256,
    threads: 2048,
  },
  cuda: {
    target: 'cuda',
    maxBuffers: 64,
    maxBufferBytes: 2 ** 31 - 1,
    maxGrid: 2 ** 31 - 1,
    workgroupSize: 256,
    threads: 132 * 2048,
    sharedBytes: 48 * 1024,
    tensorCores: cudaTensorCores(9, 0), // an H100
  },
};

export interface StagePlan {
  readonly stage: string;
  /** Kernels scheduled, and launches once the kernels over chunked tensors are sharded. */
  readonly kernels: number;
  readonly launches: number;
  /** Bytes the stage's intermediates write (every temporary once), the largest of them, the largest input. */
  readonly intermediateBytes: number;
  readonly maxIntermediateBytes: number;
  readonly maxInputBytes: number;
  readonly violations: readonly string[];
}
export interface NeuralOSPlan {
  readonly device: string;
  readonly stages: readonly StagePlan[];
  /** Launches of a whole frame at 8 and 32 DDIM steps, replayed. */
  readonly launchesPerFrame: Readonly<Record<'8' | '32', number>>;
  /** Device memory: the weights, and the most ever allocated at once over those frames (weights included). */
  readonly weightBytes: number;
  readonly peakBytes: number;
  readonly maxIntermediateBytes: number;
  readonly maxInputBytes: number;
  readonly violations: readonly string[];
}

type Limits = Partial<Caps> & { readonly target?: 'wgsl' | 'cuda' };

/** The capabilities of a GPU with `limits` (the rest as every GPU backend has them). */
export function planCaps(limits: Limits): Caps {
  const gpu = {
    statusBinding: true,
    globalsAsLoops: false,
    timer: 'device' as const,
    storage: limits.target === 'cuda' ? {} : ({ bool: 'u32', bf16: 'f32' } as const),
  };
  return { ...new CpuBackend().caps, ...gpu, ...limits };
}

let planned = 0;
/** A device with `limits` that runs nothing, registered under a fresh name. */
export function planDevice(limits: Limits, like: string): NullBackend {
  const caps = planCaps(limits);
  const lang = limits.target === 'cuda' ? cudaFor(caps.workgroupSize, caps.tensorCores) : wgslFor(caps.workgroupSize);
  const b = new NullBackend(`plan${planned++}`, caps, lang, like);
  registerDevice(b);
  return b;
}

/** The plan of one stage's graph: its schedule, each kernel sharded over the layouts its buffers would have. */
function planStage(stage: string, outputs: readonly Tensor[], caps: Caps): StagePlan {
  const bytes = (numel: number, dtype: string) => numel * itemsize(storageOf(caps, dtype as never));
  let s: ReturnType<typeof schedule>;
  try {
    s = schedule(...outputs);
  } catch (e) {
    return {
      stage,
      kernels: 0,
      launches: 0,
      intermediateBytes: 0,
      maxIntermediateBytes: 0,
      maxInputBytes: 0,
      violations: [(e as Error).message],
    };
  }
  const layout = (numel: number, row: number) => ({ numel, chunkElems: chunkElems(numel, row, caps.maxBufferBytes) });
  const violations: string[] = [];
  let launches = 0;
  for (const item of s.items) {
    const layouts = item.bufs.map((r) =>
      r.kind === 'input'
        ? layout(s.leaves[r.slot]!.numel, s.leaves[r.slot]!.row)
        : r.kind === 'temp'
          ? layout(s.temps[r.id]!.numel, s.temps[r.id]!.row)
          : layout(outputs[r.index]!.numel, rowElems(outputs[r.index]!.shape)),
    );
    try {
      launches += shard(item.kernel, layouts, caps)?.length ?? 1;
    } catch (e) {
      if (!(e instanceof ShardError)) throw e;
      violations.push(e.message);
    }
  }
  const temps = s.temps.map((t) => bytes(t.numel, t.dtype));
  return {
    stage,
    kernels: s.items.length,
    launches,
    intermediateBytes: temps.reduce((a, b) => a + b, 0),
    maxIntermediateBytes: Math.max(0, ...temps),
    maxInputBytes: Math.max(0, ...s.leaves.map((l) => bytes(l.numel, l.dtype))),
    violations,
  };
}

/** The stages of a model on its device: a state step, one UNet call with its DDIM update, the decoder. */
export async function planStages(model: NeuralOS, caps: Caps): Promise<StagePlan[]> {
  const { cfg, device, rnn, unet, decoder } = model,
    { height: h, width: w } = latentSize(cfg);
  const latent = await zeros([1, cfg.latentChannels, h, w], { device }).realize();
  const cond = await zeros([1, cfg.rnn.outChannels, h, w], { device }).realize();
  const ev = rnn.inputs({ x: 1, y: 1, left: false, right: false, keys: new Array(cfg.rnn.keys).fill(0) });
  await ev.keys.realize();
  const state = rnn.step(rnn.initial.unknown, { ...ev, prevLatent: latent, isPadding: false });
  const x0 = unet.forward(cat([latent, cond], 1), timestepVar(cfg, Math.floor(cfg.diffusion.timesteps / 2), device));
  return [
    planStage(
      'state model',
      [state.out, state.state.hLower, state.state.cLower, state.state.hUpper, state.state.cUpper],
      caps,
    ),
    planStage(
      'unet + ddim',
      [ddimUpdate(latent, x0, scaleVars({ sqrtA: 0.5, sqrt1mA: 0.8, sqrtPrev: 0.6, sqrt1mPrev: 0.7 }, device))],
      caps,
    ),
    planStage('decoder', [decoder.forward(model.denormalize(latent))], caps),
  ];
}

/** Builds the model (weights as shapes only) on a device with `limits`, plans its stages and replays frames. */
export async function planNeuralOS(
  cfg: NeuralOSConfig,
  opts: { limits: Partial<Caps> & { target?: 'wgsl' | 'cuda' }; like: string; dtype?: WeightDtype; frames?: boolean },
): Promise<NeuralOSPlan> {
  const device = planDevice(opts.limits, opts.like);
  const model = await NeuralOS.load(cfg, { device: device.name, dtype: opts.dtype });
  const weightBytes = device.live;
  const stages = await planStages(model, device.caps);
  const violations = stages.flatMap((s) => s.violations.map((v) => `${s.stage}: ${v}`));
  const launchesPerFrame = { '8': 0, '32': 0 };
  if (!violations.length && opts.frames !== false) {
    for (const steps of [8, 32] as const) {
      for (let f = 0; f < 3; f++) {
        // the third frame replays every stage
        const start = device.launches;
        await model.step({ x: 3 * f, y: 5, is_left_click: f === 1 }, { steps });
        if (f === 2) launchesPerFrame[steps] = device.launches - start;
      }
    }
  }
  return {
    device: device.description,
    stages,
    launchesPerFrame,
    weightBytes,
    peakBytes: device.peak,
    maxIntermediateBytes: Math.max(...stages.map((s) => s.maxIntermediateBytes)),
    maxInputBytes: Math.max(...stages.map((s) => s.maxInputBytes)),
    violations,
  };
}
