// DDIM sampling as the reference runs it: eta 0, x0-parameterized model, 'uniform' timesteps
// (c = T // S, range(0, T, c) + 1 — so 32 steps are 33 UNet calls), output = the last x_prev.
import type { Tensor } from '../../index.js';
import type { NeuralOSConfig } from './config.js';

export function alphasCumprod(cfg: NeuralOSConfig): Float64Array {
  const { timesteps: T, linearStart, linearEnd } = cfg.diffusion;
  const out = new Float64Array(T);
  let acc = 1;
  for (let i = 0; i < T; i++) {
    const sb = Math.sqrt(linearStart) + ((Math.sqrt(linearEnd) - Math.sqrt(linearStart)) * i) / (T - 1);
    acc *= 1 - sb * sb;
    out[i] = Math.fround(acc);                     // the reference keeps the buffer in float32
  }
  return out;
}

export function ddimTimesteps(steps: number, T = 1000): number[] {
  const c = Math.floor(T / steps), out: number[] = [];
  for (let t = 0; t < T; t += c) out.push(t + 1);
  return out;
}

/** Samples from `noise` with `model(x, t)` predicting x0; S = 1 is one call at t = T - 1. Each step is
 * realized before the next is built, so the graph and the memory stay one UNet call deep. */
export async function ddimSample(cfg: NeuralOSConfig, steps: number, noise: Tensor, model: (x: Tensor, t: number) => Tensor): Promise<Tensor> {
  const T = cfg.diffusion.timesteps;
  if (steps === 1) return model(noise, T - 1).realize();
  const ac = alphasCumprod(cfg), ts = ddimTimesteps(steps, T), f = Math.fround;
  let x = noise;
  for (let i = ts.length - 1; i >= 0; i--) {
    const t = ts[i]!, aT = ac[t]!, aPrev = i > 0 ? ac[ts[i - 1]!]! : ac[0]!;
    const x0 = model(x, t);
    const eps = x.sub(x0.mul(f(Math.sqrt(aT)))).div(f(Math.sqrt(f(1 - aT))));
    const next = await x0.mul(f(Math.sqrt(aPrev))).add(eps.mul(f(Math.sqrt(f(1 - aPrev))))).realize();
    if (x !== noise) x.dispose();
    x = next;
  }
  return x;
}
