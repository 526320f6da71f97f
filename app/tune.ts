// `polygrad tune neuralos`: BEAM-tunes every kernel of a NeuralOS frame on this device and reports what it gained.
// Frames are timed with the heuristic's actions, then BEAM searches (or finds in $POLYGRAD_CACHE/beam.json) every
// kernel a frame compiles, and the same frames are timed again; later runs with BEAM=n start from the cache.
import { formatOpts } from '../codegen/actions.js';
import { getDevice } from '../index.js';
import { beamWidth, setBeam, setBeamBudget, takeChoices } from '../runtime/beam.js';
import { cachePath } from '../runtime/cachefile.js';
import type { Flags } from './args.js';
import { loadModel } from './neuralos.js';

const count = (flags: Flags, name: string, fallback: number, min: number): number => {
  const v = flags[name] === undefined ? fallback : Number(flags[name]);
  if (!Number.isInteger(v) || v < min)
    throw new Error(`tune: --${name} ${String(flags[name])} is not an integer ≥ ${min}`);
  return v;
};

export async function tuneNeuralOS(flags: Flags, device: string): Promise<void> {
  const steps = count(flags, 'steps', 4, 1),
    frames = count(flags, 'frames', 3, 1),
    width = count(flags, 'beam', beamWidth() || 2, 1);
  if (flags.budget !== undefined) setBeamBudget(Number(flags.budget));
  const { model } = await loadModel(flags, device);
  const session = model.session(),
    { width: W, height: H } = model.cfg.screen;
  let n = 0;
  const frame = () => {
    n++;
    return session.step({ x: (37 * n) % W, y: (23 * n) % H, is_left_click: n % 3 === 0 }, { steps });
  };
  /** ms per frame once every kernel is compiled and every step captured: the best of three rounds of frames. */
  const timeFrames = async (): Promise<number> => {
    await frame();
    await frame();
    let best = Infinity;
    for (let round = 0; round < 3; round++) {
      const t0 = performance.now();
      for (let i = 0; i < frames; i++) await frame();
      best = Math.min(best, (performance.now() - t0) / frames);
    }
    return best;
  };
  setBeam(0);
  const before = await timeFrames();
  console.log(
    `heuristic: ${before.toFixed(1)} ms per frame (${steps} steps) on ${device} (${getDevice(device).description})`,
  );
  setBeam(width);
  takeChoices();
  const t0 = performance.now();
  await frame();
  const tuned = takeChoices(),
    searchS = (performance.now() - t0) / 1000;
  const after = await timeFrames();
  const searched = tuned.filter((t) => t.from === 'search');
  console.log(
    `\nBEAM=${width}: ${searched.length} kernels searched (${searched.reduce((a, t) => a + t.tried, 0)} candidates ` +
      `timed), ` +
      `${tuned.length - searched.length} from the cache, in ${searchS.toFixed(1)} s\n`,
  );
  console.log(
    `${'kernel'.padEnd(40)} ${'heuristic'.padStart(10)} ${'tuned'.padStart(10)} ${'speedup'.padStart(8)}  actions`,
  );
  for (const t of [...tuned].sort((a, b) => b.heuristicMs - b.ms - (a.heuristicMs - a.ms))) {
    console.log(
      `${t.name.slice(0, 40).padEnd(40)} ${t.heuristicMs.toFixed(3).padStart(8)}ms ${t.ms.toFixed(3).padStart(8)}ms ` +
        `${(t.heuristicMs / t.ms).toFixed(2).padStart(7)}×  ` +
        `${formatOpts(t.opts)}${t.from === 'cache' ? ' (cache)' : ''}`,
    );
  }
  console.log(
    `\nper frame: heuristic ${before.toFixed(1)} ms, tuned ${after.toFixed(1)} ms: ${(before / after).toFixed(2)}× ` +
      `(cache: ${await cachePath('beam.json')}; BEAM=${width} uses it)`,
  );
  setBeam(0);
}
