// The frame loop: once warm, frames of random events (cursor anywhere, clicks, keys, any step count) compile
// nothing, schedule nothing, keep device memory flat, and the jitted frames are the bits of running the same
// model without the jit.
import { describe, expect, test } from 'vitest';
import { setJit, stats } from '../../index.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { KEYS } from '../../models/neuralos/keys.js';
import { NeuralOS, type NeuralOSEvent } from '../../models/neuralos/neuralos.js';
import { rng } from '../ops/nd.js';
import { backends } from '../backends.js';
import { live } from '../live.js';

function randomEvents(n: number, seed: number): { ev: NeuralOSEvent; steps: number }[] {
  const r = rng(seed),
    pick = (k: number) => Math.floor(r() * k);
  return Array.from({ length: n }, () => ({
    ev: {
      x: pick(tinyConfig.screen.width),
      y: pick(tinyConfig.screen.height),
      is_left_click: r() < 0.2,
      is_right_click: r() < 0.1,
      keys_down: r() < 0.3 ? [KEYS[pick(KEYS.length)]!] : [],
      keys_up: r() < 0.3 ? [KEYS[pick(KEYS.length)]!] : [],
    },
    steps: [1, 2, 4, 5][pick(4)]!, // not 3: the reference's schedule cannot run it
  }));
}

describe.each(backends)('the frame loop on %s', (device) => {
  test('50 frames of random events after warm-up: no compiles, no schedules, flat memory', async () => {
    const model = await NeuralOS.load(tinyConfig, { device });
    // warm-up: two frames per jitted stage (S = 1 calls the UNet alone, S > 1 with the DDIM update)
    for (const [i, steps] of [1, 2, 1, 2].entries()) await model.step({ x: 3 * i, y: 5 }, { steps });
    const before = { compiles: stats.compiles, schedules: stats.schedules, mem: live() };
    for (const { ev, steps } of randomEvents(50, 7)) {
      const f = await model.step(ev, { steps });
      expect(f.image).toHaveLength(64 * 64 * 3);
    }
    expect(stats.compiles - before.compiles, 'kernels compiled').toBe(0);
    expect(stats.schedules - before.schedules, 'graphs scheduled').toBe(0);
    expect(live()).toEqual(before.mem);
  }, 240_000);

  test('jitted frames equal frames run without the jit, bit for bit', async () => {
    const run = async (jit: boolean) => {
      setJit(jit);
      try {
        const model = await NeuralOS.load(tinyConfig, { device });
        const out: { image: Uint8Array; latent: Float32Array }[] = [];
        for (const { ev, steps } of randomEvents(5, 11)) {
          const f = await model.step(ev, { steps: Math.max(2, steps) });
          out.push({ image: f.image, latent: Float32Array.from(await model.previousLatent!.data()) });
        }
        return out;
      } finally {
        setJit(true);
      }
    };
    const plain = await run(false),
      jitted = await run(true);
    jitted.forEach((f, i) => {
      expect(Buffer.from(f.image).equals(Buffer.from(plain[i]!.image)), `frame ${i} image`).toBe(true);
      expect(Buffer.from(f.latent.buffer).equals(Buffer.from(plain[i]!.latent.buffer)), `frame ${i} latent`).toBe(true);
    });
  }, 240_000);
});
