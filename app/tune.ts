// `polygrad tune neuralos`: BEAM-tunes every kernel of a NeuralOS frame on this device and reports what it gained.
// BEAM searches (or finds in $POLYGRAD_CACHE/beam.json) every kernel a frame compiles; then frames are timed with the
// heuristic's actions and with the tuned ones in alternation (ABBA rounds, each after warm-up frames), so drift,
// warm caches and clocks fall on both alike; later runs with BEAM=n start from the cache.
import { formatOpts } from '../codegen/actions.js';
import { getDevice } from '../index.js';
import { beamWidth, setBeam, setBeamBudget, takeChoices } from '../runtime/beam.js';
import { cachePath } from '../runtime/cachefile.js';
import type { Flags } from './args.js';
import { loadModel } from './neuralos.js';

/** Timed rounds per side, in the order heuristic, tuned, tuned, heuristic, heuristic, tuned. */
const ORDER = ['heuristic', 'tuned', 'tuned', 'heuristic', 'heuristic', 'tuned'] as const;

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b),
    m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export async function tuneNeuralOS(flags: Flags, device: string): Promise<void> {
  const frames = Number(flags.frames ?? 3),
    width = flags.beam === undefined ? beamWidth() || 2 : Number(flags.beam);
  if (flags.budget !== undefined) setBeamBudget(Number(flags.budget));
  const { model, steps } = await loadModel(flags, device);
  const session = model.session(),
    { width: W, height: H } = model.cfg.screen;
  let n = 0;
  const frame = () => {
    n++;
    return session.step({ x: (37 * n) % W, y: (23 * n) % H, is_left_click: n % 3 === 0 }, { steps });
  };
  console.log(
    `tuning a ${steps}-step frame on ${device} (${getDevice(device).description}): BEAM=${width} over every kernel`,
  );
  setBeam(0);
  await frame(); // the first frame's one-time costs (uploads, the padding state) fall on neither side
  setBeam(width);
  takeChoices();
  const t0 = performance.now();
  await frame();
  const tuned = takeChoices(),
    searchS = (performance.now() - t0) / 1000;
  const searched = tuned.filter((t) => t.from === 'search');
  console.log(
    `\nBEAM=${width}: ${searched.length} kernels searched (${searched.reduce((a, t) => a + t.tried, 0)} candidates ` +
      `timed), ${tuned.length - searched.length} from the cache, in ${searchS.toFixed(1)} s\n`,
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
  // switching the rule recompiles and recaptures every stage (from the cache: no search), so each side's rounds
  // start with two untimed frames
  const ms = { heuristic: [] as number[], tuned: [] as number[] };
  let current: (typeof ORDER)[number] | undefined;
  for (const side of ORDER) {
    if (side !== current) {
      setBeam(side === 'heuristic' ? 0 : width);
      current = side;
      await frame();
      await frame();
    }
    const start = performance.now();
    for (let i = 0; i < frames; i++) await frame();
    ms[side].push((performance.now() - start) / frames);
  }
  takeChoices(); // the timing rounds' cache hits are not news
  const [h, t] = [median(ms.heuristic), median(ms.tuned)];
  const spread = (xs: number[]) => `${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)}`;
  console.log(
    `\nper frame (median of ${ORDER.length / 2} rounds of ${frames} frame${frames === 1 ? '' : 's'} each, ` +
      `alternated): heuristic ${h.toFixed(1)} ms (${spread(ms.heuristic)}), tuned ${t.toFixed(1)} ms ` +
      `(${spread(ms.tuned)}): ${(h / t).toFixed(2)}×`,
  );
  console.log(`cache: ${await cachePath('beam.json')}; BEAM=${width} uses it`);
  setBeam(0);
}
