// `polygrad neuralos`: runs NeuralOS over an event list and writes one PNG per frame; `polygrad convert`:
// a checkpoint (PyTorch or safetensors) to safetensors in f32 or f16, one tensor at a time.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { type NeuralOSConfig, checkConfig, fullConfig, tinyConfig } from '../models/neuralos/config.js';
import { NeuralOS, type NeuralOSEvent } from '../models/neuralos/neuralos.js';
import { configFromYaml } from '../models/neuralos/yaml.js';
import { writeSafetensors } from '../models/weights/safetensors.js';
import { openWeights } from '../models/weights/open.js';
import { byOp, byStage, chromeTrace, formatTable, profile } from '../index.js';
import type { Flags } from './args.js';
import { defaultRepo, downloadBar, parseModelRef, pull } from './hub.js';
import { parseEvent } from './protocol.js';

export function writePng(path: string, rgb: Uint8Array, width: number, height: number): void {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[4 * i] = rgb[3 * i]!;
    png.data[4 * i + 1] = rgb[3 * i + 1]!;
    png.data[4 * i + 2] = rgb[3 * i + 2]!;
    png.data[4 * i + 3] = 255;
  }
  writeFileSync(path, PNG.sync.write(png));
}

export const bar = (done: number, total: number, note: string): string => {
  const w = 24,
    fill = Math.round((w * done) / total);
  return `\r[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} ${note}`;
};

/** The demo model shipped in the package (demo/): trained on the synthetic desktop of app/desktop/. */
const demoDir = [new URL('../../demo/', import.meta.url), new URL('../demo/', import.meta.url)].find((u) =>
  existsSync(new URL('config.json', u)),
);
export const demoFiles = demoDir && {
  config: fileURLToPath(new URL('config.json', demoDir)),
  weights: fileURLToPath(new URL('neuralos-demo.safetensors', demoDir)),
};

/** --config: `full`, `tiny`, `demo`, or a file (the original's YAML, or JSON as NeuralOSConfig). */
export function configNamed(name: string, stats?: { mean: number[]; std: number[] }): NeuralOSConfig {
  if (name === 'full') return fullConfig;
  if (name === 'tiny') return tinyConfig;
  if (name === 'demo') {
    if (!demoFiles) throw new Error('--config demo: the demo model is not in this installation (demo/config.json)');
    name = demoFiles.config;
  }
  let text: string;
  try {
    text = readFileSync(name, 'utf8');
  } catch {
    throw new Error(`--config ${name}: no such file (or use full, tiny or demo)`);
  }
  if (/\.ya?ml$/i.test(name)) return configFromYaml(text, stats, name);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`config ${name}: not JSON: ${(e as Error).message}`);
  }
  return checkConfig(json, name);
}

/** `--model hf:org/repo[@rev]`: the released checkpoint, downloaded once, as f16 safetensors. */
export async function pulled(text: string): Promise<string> {
  const ref = parseModelRef(text),
    tty = process.stdout.isTTY;
  const file = await pull(ref, {
    onProgress: tty ? (d, t, r) => process.stdout.write(downloadBar(d, t, r)) : undefined,
  });
  if (tty) process.stdout.write('\n');
  return f16Beside(file);
}

/** Where a model's weights came from: the released/given checkpoint, the shipped demo, or seeded random ones. */
export type ModelKind = 'checkpoint' | 'demo' | 'random';

/**
 * The model the flags ask for: --model / --checkpoint (full config unless --config), --random (the tiny config with
 * seeded random weights), else the demo model trained on the synthetic desktop.
 */
export async function loadModel(flags: Flags, device: string): Promise<{ model: NeuralOS; kind: ModelKind }> {
  const given = ['model', 'checkpoint', 'random'].filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (given.length > 1) {
    const both = given.map((k) => `--${k}`).join(' and ');
    throw new Error(`neuralos: pass one of --model, --checkpoint or --random, not ${both}`);
  }
  const checkpoint =
    typeof flags.model === 'string'
      ? await pulled(flags.model)
      : typeof flags.checkpoint === 'string'
        ? flags.checkpoint
        : undefined;
  const kind: ModelKind = checkpoint ? 'checkpoint' : flags.random || !demoFiles ? 'random' : 'demo';
  const stats =
    typeof flags['latent-stats'] === 'string'
      ? (JSON.parse(readFileSync(flags['latent-stats'], 'utf8')) as { mean: number[]; std: number[] })
      : undefined;
  const cfg =
    typeof flags.config === 'string'
      ? configNamed(flags.config, stats)
      : configNamed({ checkpoint: 'full', demo: 'demo', random: 'tiny' }[kind]);
  const weights = kind === 'demo' ? demoFiles!.weights : checkpoint;
  const released = `--model hf:${defaultRepo}`;
  if (kind === 'random') {
    console.log(
      `neuralos: seeded RANDOM weights (frames are noise-like, not a desktop; ${released} is the released model)`,
    );
  }
  if (kind === 'demo') {
    console.log(
      `neuralos: the demo model, a small NeuralOS trained on a synthetic desktop (${released} is the released one)`,
    );
  }
  const tty = process.stdout.isTTY;
  const model = await NeuralOS.load(cfg, {
    weights,
    device,
    allowMissing: !!flags['allow-missing'],
    onProgress:
      checkpoint && tty ? (done, total) => process.stdout.write(bar(done, total, 'tensors loaded')) : undefined,
  });
  if (checkpoint && tty) process.stdout.write('\n');
  const bad = model.report.nonFinite;
  if (bad.length)
    console.warn(
      `neuralos: warning: ${bad.length} weight tensor${bad.length > 1 ? 's hold' : ' holds'} NaN or Inf ` +
        `(${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', …' : ''}); frames will be garbage`,
    );
  if (model.report.unexpected.length)
    console.log(
      `neuralos: ${model.report.unexpected.length} checkpoint keys not used by the model (first: ` +
        `${model.report.unexpected.slice(0, 3).join(', ')})`,
    );
  return { model, kind };
}

/** Default sampling steps per kind of model: the random one is for pipeline tests, the demo was evaluated at 8. */
export const defaultSteps: Readonly<Record<ModelKind, number>> = { random: 4, demo: 8, checkpoint: 16 };

export async function runNeuralOS(flags: Flags, device: string): Promise<void> {
  const { model, kind } = await loadModel(flags, device);
  const cfg = model.cfg;
  const events =
    typeof flags.events === 'string'
      ? readEvents(flags.events, cfg.screen)
      : [
          { x: 10, y: 10 },
          { x: 30, y: 20, is_left_click: true },
          { x: 50, y: 40 },
        ];
  const out = typeof flags.frames === 'string' ? flags.frames : 'frames';
  const steps = Number(flags.steps ?? defaultSteps[kind]);
  mkdirSync(out, { recursive: true });
  // copy out: small files are read into Node's shared buffer pool, at an offset
  const noiseBytes = typeof flags.noise === 'string' ? readFileSync(flags.noise) : undefined;
  const noise = noiseBytes
    ? new Float32Array(noiseBytes.buffer.slice(noiseBytes.byteOffset, noiseBytes.byteOffset + noiseBytes.byteLength))
    : undefined;
  const per = cfg.latentChannels * (cfg.screen.width / 8) * (cfg.screen.height / 8);
  for (const [i, ev] of events.entries()) {
    if (noise && noise.length < (i + 1) * per)
      throw new Error(
        `neuralos: --noise holds ${noise.length} floats, frame ${i} needs ${(i + 1) * per} (${per} per frame)`,
      );
    const dumpDir = typeof flags.dump === 'string' ? flags.dump : undefined;
    const f = await model.step(ev, { steps, noise: noise?.subarray(i * per, (i + 1) * per), dump: !!dumpDir });
    const file = join(out, `frame_${String(i).padStart(4, '0')}.png`);
    writePng(file, f.image, f.width, f.height);
    if (dumpDir && f.dump) {
      mkdirSync(dumpDir, { recursive: true });
      for (const [name, data] of Object.entries(f.dump))
        writeFileSync(
          join(dumpDir, `frame_${String(i).padStart(4, '0')}.${name}.f32`),
          new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
        );
    }
    process.stdout.write(
      bar(
        i + 1,
        events.length,
        `${file}  state ${f.ms.state.toFixed(0)} ms, unet ${f.ms.unet.toFixed(0)} ms, decode ` +
          `${f.ms.decode.toFixed(0)} ms   `,
      ),
    );
  }
  process.stdout.write('\n');
}

/** An events file: a JSON list of events, each checked with the player's rules (file and index in the message). */
export function readEvents(file: string, screen: { width: number; height: number }): NeuralOSEvent[] {
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--events ${file}: ${(e as Error).message}`);
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`--events ${file}: expected a non-empty JSON list of events`);
  return list.map((e, i) => {
    try {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error('expected an object');
      return parseEvent(e as Record<string, unknown>, screen, true);
    } catch (err) {
      throw new Error(`--events ${file}: event ${i}: ${(err as Error).message}`);
    }
  });
}

export function convert(input: string, output: string, f16: boolean): void {
  const src = openWeights(input);
  // piece by piece: the largest weight of the full model (1.6 G elements) is never whole in memory
  const read =
    src.readRange ?? ((name: string, start: number, count: number) => src.read(name).subarray(start, start + count));
  try {
    writeSafetensors(
      output,
      src.names.map((name) => ({
        name,
        shape: src.shape(name),
        read: (start: number, count: number) => read(name, start, count),
      })),
      f16 ? 'F16' : 'F32',
      { source: input },
    );
  } finally {
    src.close?.();
  }
  console.log(`convert: ${src.names.length} tensors -> ${output} (${f16 ? 'f16' : 'f32'})`);
}

/** The f16 safetensors beside a downloaded checkpoint, converted once (a .part file until it is complete). */
export function f16Beside(checkpoint: string): string {
  const out = `${checkpoint.replace(/\.safetensors$/, '')}.f16.safetensors`;
  if (existsSync(out)) return out;
  convert(checkpoint, `${out}.part`, true);
  renameSync(`${out}.part`, out);
  return out;
}

/** `polygrad profile neuralos`: frames under the profiler, a per-op and a per-stage table, a Chrome trace. */
export async function profileNeuralOS(flags: Flags, device: string): Promise<void> {
  const { model } = await loadModel(flags, device);
  const frames = Number(flags.frames ?? 2),
    steps = Number(flags.steps ?? 4);
  const session = model.session();
  await session.step({ x: 1, y: 1 }, { steps }); // compiles happen outside the profile
  const { events } = await profile(async () => {
    for (let i = 0; i < frames; i++)
      await session.step(
        { x: (17 * i) % model.cfg.screen.width, y: (29 * i) % model.cfg.screen.height, is_left_click: i % 2 === 1 },
        { steps },
      );
  });
  const total = events.reduce((a, e) => a + e.ms, 0);
  console.log(
    `\n${frames} frame(s), ${steps} sampling steps, ${events.length} kernel launches, ${total.toFixed(1)} ms of ` +
      `kernel time on ${device}\n`,
  );
  console.log(formatTable(byOp(events)));
  console.log('\nper stage (time split across fused ops is an estimate; per stage it is exact)');
  for (const [stage, r] of byStage(events))
    console.log(
      `  ${stage.padEnd(14)} ${r.ms.toFixed(2).padStart(10)} ms ${((100 * r.ms) / total).toFixed(1).padStart(6)}%  ` +
        `${r.launches} launches`,
    );
  const trace = typeof flags.trace === 'string' ? flags.trace : 'neuralos-trace.json';
  writeFileSync(trace, JSON.stringify(chromeTrace(events)));
  console.log(`\nChrome trace: ${trace} (open in https://ui.perfetto.dev or chrome://tracing)`);
}
