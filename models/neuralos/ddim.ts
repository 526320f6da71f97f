// DDIM sampling as the reference runs it: eta 0, x0-parameterized model, 'uniform' timesteps
// (c = T // S, range(0, T, c) + 1 — so 32 steps are 33 UNet calls), output = the last x_prev. The timestep and
// the update's coefficients are variables: every step runs the same kernels, at any step count.
import { type Tensor, variable } from '../../index.js';
import type { NeuralOSConfig } from './config.js';

export function alphasCumprod(cfg: NeuralOSConfig): Float64Array {
  const { timesteps: T, linearStart, linearEnd } = cfg.diffusion;
  const out = new Float64Array(T);
  let acc = 1;
  for (let i = 0; i < T; i++) {
    const sb = Math.sqrt(linearStart) + ((Math.sqrt(linearEnd) - Math.sqrt(linearStart)) * i) / (T - 1);
    acc *= 1 - sb * sb;
    out[i] = Math.fround(acc); // the reference keeps the buffer in float32
  }
  return out;
}

export function ddimTimesteps(steps: number, T = 1000): number[] {
  const c = Math.floor(T / steps),
    out: number[] = [];
  for (let t = 0; t < T; t += c) out.push(t + 1);
  return out;
}

/** The scales of one update x_t → x_prev: √ā_t, √(1 − ā_t), √ā_prev, √(1 − ā_prev), rounded to f32 as the reference. */
export interface DdimScales {
  readonly sqrtA: number;
  readonly sqrt1mA: number;
  readonly sqrtPrev: number;
  readonly sqrt1mPrev: number;
}
/** One model call of a sampling run: its timestep and the update after it (none for S = 1: x0 is the sample). */
export interface DdimCall {
  readonly t: number;
  readonly update?: DdimScales;
}

/**
 * Why S steps cannot run, or undefined: where T - 1 is a multiple of c = T // S (S = 3, 9, 27, 37 for T = 1000) the
 * last uniform timestep is T itself, past the schedule; the reference's sampler fails there too (an index error).
 */
export function stepsProblem(steps: number, T = 1000): string | undefined {
  if (!Number.isInteger(steps) || steps < 1 || steps >= T)
    return `steps must be an integer in [1, ${T - 1}], got ${steps}`;
  const last = ddimTimesteps(steps, T).at(-1)!;
  if (steps > 1 && last >= T)
    return (
      `${steps} steps put the last DDIM timestep at ${last}, past the ${T}-step schedule (the reference ` +
      `sampler fails the same way); use ${steps - 1} or ${steps + 1}`
    );
  return undefined;
}

/** The model calls of an S-step run, in call order (S = 1 is one call at t = T - 1). */
export function ddimCalls(cfg: NeuralOSConfig, steps: number): DdimCall[] {
  const T = cfg.diffusion.timesteps,
    problem = stepsProblem(steps, T);
  if (problem) throw new Error(`neuralos: ${problem}`);
  if (steps === 1) return [{ t: T - 1 }];
  const ac = alphasCumprod(cfg),
    ts = ddimTimesteps(steps, T),
    f = Math.fround;
  return ts
    .map((t, i) => {
      const aT = ac[t]!,
        aPrev = i > 0 ? ac[ts[i - 1]!]! : ac[0]!;
      return {
        t,
        update: {
          sqrtA: f(Math.sqrt(aT)),
          sqrt1mA: f(Math.sqrt(f(1 - aT))),
          sqrtPrev: f(Math.sqrt(aPrev)),
          sqrt1mPrev: f(Math.sqrt(f(1 - aPrev))),
        },
      };
    })
    .reverse();
}

/** The scales as f32 variables (what a jitted step takes per call). */
export const scaleVars = (s: DdimScales, device?: string): Record<keyof DdimScales, Tensor> =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, variable(v, { name: k, device })])) as Record<
    keyof DdimScales,
    Tensor
  >;

/** x_prev from x_t and the predicted x0 (eta 0), in the reference's order of operations. */
export function ddimUpdate(x: Tensor, x0: Tensor, s: Record<keyof DdimScales, Tensor | number>): Tensor {
  const eps = x.sub(x0.mul(s.sqrtA)).div(s.sqrt1mA);
  return x0.mul(s.sqrtPrev).add(eps.mul(s.sqrt1mPrev));
}

/** The timestep of a call as an i32 variable in [0, T). */
export const timestepVar = (cfg: NeuralOSConfig, t: number, device?: string): Tensor =>
  variable(t, { dtype: 'i32', min: 0, max: cfg.diffusion.timesteps - 1, name: 't', device });

/** A sampling step from a model: x0 = model(x, t), then the update; realized, so the graph stays one call deep. */
export const modelStep =
  (cfg: NeuralOSConfig, model: (x: Tensor, t: Tensor) => Tensor) =>
  async (x: Tensor, call: DdimCall): Promise<Tensor> => {
    const x0 = model(x, timestepVar(cfg, call.t, x.device));
    return (call.update ? ddimUpdate(x, x0, scaleVars(call.update, x.device)) : x0).realize();
  };

/** Samples from `noise`, one `step` per model call; each step's input is freed once the next exists. */
export async function ddimSample(
  cfg: NeuralOSConfig,
  steps: number,
  noise: Tensor,
  step: (x: Tensor, call: DdimCall) => Promise<Tensor>,
): Promise<Tensor> {
  let x = noise;
  for (const call of ddimCalls(cfg, steps)) {
    const next = await step(x, call);
    if (x !== noise) x.dispose();
    x = next;
  }
  return x;
}
