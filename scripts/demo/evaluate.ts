// The demo model's evaluation, run by polygrad: unseen random sessions (seed 3; training used 1, validation 2) and the
// scripted one (sampled from several noise seeds: one run says little), sampled autoregressively with DDIM as the
// player does, scored against the simulator (cursor error, window state, PSNR). Writes demo/eval.json, one entry per
// device.
//   node dist/scripts/demo/evaluate.js [--device cpu|webgpu] [--sessions 24] [--frames 30] [--scripted 8] [--steps 8]
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { initDevices, devices } from '../../index.js';
import { type Summary, scoreSession, summarize } from '../../app/desktop/metrics.js';
import { randomSession, scriptedSession } from '../../app/desktop/sessions.js';
import { configNamed, demoFiles } from '../../app/neuralos.js';
import { NeuralOS, type NeuralOSEvent } from '../../models/neuralos/neuralos.js';

const { values } = parseArgs({
  options: {
    device: { type: 'string', default: 'cpu' },
    sessions: { type: 'string', default: '24' },
    frames: { type: 'string', default: '30' },
    scripted: { type: 'string', default: '8' },
    steps: { type: 'string', default: '8' },
  },
});
if (!demoFiles) throw new Error('evaluate: no demo model (demo/config.json); train it first: npm run demo:train');
await initDevices();
const device = values.device!,
  steps = Number(values.steps),
  backend = devices().find((d) => d.name === device);
const found = devices()
  .map((d) => d.name)
  .join(', ');
if (!backend) throw new Error(`evaluate: no ${device} backend here (found: ${found})`);
const model = await NeuralOS.load(configNamed('demo'), { device, weights: demoFiles.weights });

async function run(events: readonly NeuralOSEvent[], seed: number): Promise<Uint8Array[]> {
  const s = model.session(),
    out: Uint8Array[] = [];
  for (const [t, e] of events.entries()) out.push((await s.step(e, { steps, seed: seed * 1000 + t })).image);
  s.reset();
  return out;
}

const t0 = performance.now(),
  scores = [];
const n = Number(values.sessions),
  frames = Number(values.frames);
for (let i = 0; i < n; i++) {
  const events = randomSession(3 * 1_000_003 + i, frames);
  scores.push(...scoreSession(events, await run(events, i)));
  process.stdout.write(`\r${i + 1}/${n} sessions`);
}
const random: Summary = summarize(scores);
const script = scriptedSession(),
  runs = Number(values.scripted),
  scriptScores = [];
for (let i = 0; i < runs; i++) scriptScores.push(...scoreSession(script, await run(script, 1000 + i)));
const scripted = { runs, ...summarize(scriptScores) };
const ms = (performance.now() - t0) / (n * frames + runs * script.length);
const entry = {
  date: new Date().toISOString().slice(0, 10),
  backend: backend.description,
  steps,
  msPerFrame: Math.round(ms),
  random: { sessions: n, ...random },
  scripted,
};
console.log(`\n${device}:`, JSON.stringify(entry, null, 1));
const file = demoFiles.config.replace(/config\.json$/, 'eval.json');
const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>) : {};
writeFileSync(file, `${JSON.stringify({ ...all, [device]: entry }, null, 1)}\n`);
process.exit(0);
