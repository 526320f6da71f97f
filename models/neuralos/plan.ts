// What one NeuralOS frame asks of a device, without running it: the kernels of each stage, the bytes their
// intermediates write, the largest intermediate against the largest input, and the launches that would break the
// device's limits (too many buffers bound, a binding larger than it allows).
import { type Tensor, cat, getDevice, zeros } from '../../index.js';
import { itemsize } from '../../codegen/dtype.js';
import { storageOf } from '../../backends/backend.js';
import { schedule } from '../../runtime/plan.js';
import { latentSize } from './config.js';
import { ddimUpdate, scaleVars, timestepVar } from './ddim.js';
import type { NeuralOS } from './neuralos.js';

export interface StagePlan {
  readonly stage: string;
  readonly kernels: number;
  /** Bytes the stage's intermediates write (every temporary once), the largest of them, the largest input. */
  readonly intermediateBytes: number; readonly maxIntermediateBytes: number; readonly maxInputBytes: number;
  readonly violations: readonly string[];
}

/** The state step, one UNet call with its DDIM update, and the decoder, scheduled on the model's device. */
export async function planStages(model: NeuralOS): Promise<StagePlan[]> {
  const { cfg, device, rnn, unet, decoder } = model, { height: h, width: w } = latentSize(cfg);
  const caps = getDevice(device).caps;
  const bytes = (numel: number, dtype: string) => numel * itemsize(storageOf(caps, dtype as never));
  const latent = await zeros([1, cfg.latentChannels, h, w], { device }).realize();
  const cond = await zeros([1, cfg.rnn.outChannels, h, w], { device }).realize();
  const ev = rnn.inputs({ x: 1, y: 1, left: false, right: false, keys: new Array(cfg.rnn.keys).fill(0) });
  await ev.keys.realize();
  const stages: [string, () => Tensor[]][] = [
    ['state model', () => { const r = rnn.step(rnn.initial.unknown, { ...ev, prevLatent: latent, isPadding: false }); return [r.out, r.state.hLower, r.state.cLower, r.state.hUpper, r.state.cUpper]; }],
    ['unet + ddim', () => [ddimUpdate(latent, unet.forward(cat([latent, cond], 1), timestepVar(cfg, 500, device)), scaleVars({ sqrtA: 0.5, sqrt1mA: 0.8, sqrtPrev: 0.6, sqrt1mPrev: 0.7 }, device))]],
    ['decoder', () => [decoder.forward(model.denormalize(latent))]],
  ];
  const out: StagePlan[] = [];
  for (const [stage, build] of stages) {
    const s = schedule(...build());
    const temps = s.temps.map((t) => bytes(t.numel, t.dtype));
    const violations = s.items.flatMap(({ kernel: k }) => [
      ...(k.params.length > caps.maxBuffers ? [`${k.name} binds ${k.params.length} buffers, the device allows ${caps.maxBuffers}`] : []),
      ...k.params.filter((p) => bytes(p.numel, p.dtype) > caps.maxBufferBytes).map((p) => `${k.name} binds ${bytes(p.numel, p.dtype)} bytes (${p.numel} × ${p.dtype}), the device allows ${caps.maxBufferBytes}`),
    ]);
    out.push({
      stage, kernels: s.items.length, intermediateBytes: temps.reduce((a, b) => a + b, 0), maxIntermediateBytes: Math.max(0, ...temps),
      maxInputBytes: Math.max(0, ...s.leaves.map((l) => bytes(l.numel, l.dtype))), violations,
    });
  }
  return out;
}
