// The demo model end to end, on every backend: the scripted session (open files, close it, open notes, type "hi",
// close it) through polygrad's inference, from the noise PyTorch used. The frames equal PyTorch's (±1 level: f32
// rounding on the way to bytes) and show what the simulator shows: the window state right on every click frame,
// the cursor where the mouse is, PSNR over 25 dB. Thresholds sit a little under what training measured
// (demo/train.log, demo/eval.json); the fixture comes from scripts/demo/train.py with the shipped f16 weights.
import { describe, expect, test } from 'vitest';
import { scoreSession, summarize } from '../../app/desktop/metrics.js';
import { scriptedSession, trueFrames } from '../../app/desktop/sessions.js';
import { configNamed, demoFiles } from '../../app/neuralos.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';
import { openWeights } from '../../models/weights/open.js';
import { backends } from '../backends.js';

const fixture = openWeights('test/fixtures/demo/scripted.safetensors');
const noise = fixture.read('noise'),
  pytorch = fixture.read('images');

describe.each(backends)('the demo model on %s', (device) => {
  test("the scripted session: PyTorch's frames (±1 level), the simulator's windows, cursor and pixels", async () => {
    expect(demoFiles, 'demo/config.json and demo/neuralos-demo.safetensors ship with the package').toBeDefined();
    const cfg = configNamed('demo'),
      model = await NeuralOS.load(cfg, { device, weights: demoFiles!.weights });
    expect([...model.report.problems, ...model.report.nonFinite]).toEqual([]);
    const events = scriptedSession(),
      n = cfg.screen.width * cfg.screen.height * 3,
      per = noise.length / events.length;
    expect(Array.from(fixture.read('x')), 'the fixture was made from this script').toEqual(events.map((e) => e.x));
    const session = model.session(),
      frames: Uint8Array[] = [];
    for (const [t, e] of events.entries()) {
      frames.push((await session.step(e, { steps: 8, noise: noise.subarray(t * per, (t + 1) * per) })).image);
    }
    let worst = 0;
    frames.forEach((f, t) =>
      f.forEach((v, i) => {
        worst = Math.max(worst, Math.abs(v - pytorch[t * n + i]!));
      }),
    );
    expect(worst, "largest difference from PyTorch's frames, in levels").toBeLessThanOrEqual(1);

    const s = summarize(scoreSession(events, frames));
    expect(s.clicks).toBe(4);
    expect(s.windowRightOnClicks).toBe(1);
    expect(s.cursorMedian).toBeLessThanOrEqual(1);
    expect(s.psnrMean).toBeGreaterThanOrEqual(25);
    // and the simulator's frames are not what a model that ignored its input would make: the first frame, repeated
    const still = summarize(
      scoreSession(
        events,
        events.map(() => trueFrames(events)[0]!),
      ),
    );
    expect(still.windowRightOnClicks).toBeLessThan(1);
  }, 240_000);
});
