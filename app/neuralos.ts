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
import { type Flags, UsageError } from './args.js';
import { stepsProblem } from '../models/neuralos/ddim.js';
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
  return `[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${done}/${total} ${note}`;
};

/**
 * A progress line: rewritten in place on a terminal; elsewhere (a log file, a pipe) a plain line at most every
 * `everyMs`, and the last one at the end, so `npm start > log` reads as lines instead of one line of carriage returns.
 */
export function progressLine(everyMs = 2000): { update(line: string): void; end(): void } {
  const tty = !!process.stdout.isTTY;
  let shown = -Infinity,
    pending: string | undefined;
  return {
    update(line) {
      if (tty) process.stdout.write(`\r${line}`);
      else if (performance.now() - shown >= everyMs) {
        console.log(line.trimEnd());
        shown = performance.now();
        pending = undefined;
      } else pending = line;
    },
    end() {
      if (tty) process.stdout.write('\n');
      else if (pending !== undefined) console.log(pending.trimEnd());
    },
  };
}

/** The demo model shipped in the package (demo/): trained on the synthetic desktop of app/desktop/. */
const demoDir = [new URL('../../demo/', import.meta.url), new URL('../demo/', import.meta.url)].find((u) =>
  existsSync(new URL('config.json', u)),
);
export const demoFiles = demoDir && {
  config: fileURLToPath(new URL('config.json', demoDir)),
  weights: fileURLToPath(new URL('neuralos-demo.safetensors', demoDir)),
};

/**
 * --config: `full`, `tiny`, `demo`, or a file (the original's YAML, or JSON as NeuralOSConfig); a name that is none of
 * them or a file that is not a valid config is a UsageError (a bad flag value) naming it.
 */
export function configNamed(name: string, stats?: { mean: number[]; std: number[] }): NeuralOSConfig {
  try {
    return configFrom(name, stats);
  } catch (e) {
    throw e instanceof UsageError ? e : new UsageError((e as Error).message);
  }
}

function configFrom(name: string, stats?: { mean: number[]; std: number[] }): NeuralOSConfig {
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
    line = progressLine(10_000);
  let shown = false;
  const file = await pull(ref, {
    onProgress: (d, t, r) => {
      shown = true;
      line.update(downloadBar(d, t, r));
    },
  });
  if (shown) line.end();
  return f16Beside(file);
}

/** Where a model's weights came from: the released/given checkpoint, the shipped demo, or seeded random ones. */
export type ModelKind = 'checkpoint' | 'demo' | 'random';

/** The model the flags ask for, checked before anything loads or downloads. */
export interface ModelChoice {
  readonly kind: ModelKind;
  /** The --config given, or the kind's own: full for a checkpoint, demo, tiny for --random. */
  readonly config: string;
  readonly cfg: NeuralOSConfig;
  /** Sampling steps: --steps, else the kind's default. */
  readonly steps: number;
}

/**
 * --model / --checkpoint: that checkpoint (the full config unless --config); --random: seeded random weights (the
 * tiny config unless --config); --config alone: seeded random weights for that config (the demo's weights fit only
 * --config demo); nothing: the demo model trained on the synthetic desktop. A flag value that cannot work (a missing
 * file, a bad config, steps the schedule cannot take) is a UsageError naming it.
 */
export function chooseModel(flags: Flags): ModelChoice {
  const given = ['model', 'checkpoint', 'random'].filter((k) => flags[k] !== undefined && flags[k] !== false);
  if (given.length > 1) {
    const both = given.map((k) => `--${k}`).join(' and ');
    throw new UsageError(`pass one of --model, --checkpoint or --random, not ${both}`);
  }
  if (typeof flags.model === 'string') parseModelRef(flags.model);
  if (typeof flags.checkpoint === 'string' && !existsSync(flags.checkpoint))
    throw new UsageError(`--checkpoint ${flags.checkpoint}: no such file`);
  const named = typeof flags.config === 'string' ? flags.config : undefined;
  const kind: ModelKind =
    typeof flags.model === 'string' || typeof flags.checkpoint === 'string'
      ? 'checkpoint'
      : flags.random || !demoFiles || (named !== undefined && named !== 'demo')
        ? 'random'
        : 'demo';
  const config = named ?? { checkpoint: 'full', demo: 'demo', random: 'tiny' }[kind];
  const cfg = configNamed(config, latentStats(flags['latent-stats']));
  const steps = Number(flags.steps ?? defaultSteps[kind]),
    problem = stepsProblem(steps, cfg.diffusion.timesteps);
  if (problem) throw new UsageError(`--steps ${steps}: ${problem}`);
  return { kind, config, cfg, steps };
}

function latentStats(file: string | boolean | undefined): { mean: number[]; std: number[] } | undefined {
  if (typeof file !== 'string') return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { mean: number[]; std: number[] };
  } catch (e) {
    const m = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new UsageError(`--latent-stats ${file}: ${m}`);
  }
}

/** The model chooseModel picks, loaded (downloaded first for --model), with a line saying what it is. */
export async function loadModel(flags: Flags, device: string): Promise<ModelChoice & { model: NeuralOS }> {
  const choice = chooseModel(flags),
    { kind, config, cfg } = choice;
  const checkpoint =
    typeof flags.model === 'string'
      ? await pulled(flags.model)
      : typeof flags.checkpoint === 'string'
        ? flags.checkpoint
        : undefined;
  const weights = kind === 'demo' ? demoFiles!.weights : checkpoint;
  const released = `--model hf:${defaultRepo}`;
  if (kind === 'random') {
    const why = flags.random ? '--random' : 'no --checkpoint or --model for this --config';
    console.log(
      `neuralos: seeded RANDOM weights for the ${config} config (${why}): frames are noise-like, not a desktop ` +
        `(${released} is the released model)`,
    );
  }
  if (kind === 'demo') {
    console.log(
      `neuralos: the demo model, a small NeuralOS trained on a synthetic desktop (${released} is the released one)`,
    );
  }
  const line = progressLine();
  const model = await NeuralOS.load(cfg, {
    weights,
    device,
    allowMissing: !!flags['allow-missing'],
    onProgress: checkpoint ? (done, total) => line.update(bar(done, total, 'tensors loaded')) : undefined,
  });
  if (checkpoint) line.end();
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
  return { ...choice, model };
}

/** Default sampling steps per kind of model: the random one is for pipeline tests, the demo was evaluated at 8. */
export const defaultSteps: Readonly<Record<ModelKind, number>> = { random: 4, demo: 8, checkpoint: 16 };

export async function runNeuralOS(flags: Flags, device: string): Promise<void> {
  // the events and the noise are read and checked before the model loads: a bad file fails in a moment
  const { cfg } = chooseModel(flags);
  const events =
    typeof flags.events === 'string'
      ? readEvents(flags.events, cfg.screen)
      : [
          { x: 10, y: 10 },
          { x: 30, y: 20, is_left_click: true },
          { x: 50, y: 40 },
        ];
  const per = cfg.latentChannels * (cfg.screen.width / 8) * (cfg.screen.height / 8);
  const noise = typeof flags.noise === 'string' ? readNoise(flags.noise, events.length, per) : undefined;
  const out = typeof flags.frames === 'string' ? flags.frames : 'frames';
  const { model, steps } = await loadModel(flags, device);
  mkdirSync(out, { recursive: true });
  const line = progressLine();
  for (const [i, ev] of events.entries()) {
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
    line.update(
      bar(
        i + 1,
        events.length,
        `${file}  state ${f.ms.state.toFixed(0)} ms, unet ${f.ms.unet.toFixed(0)} ms, decode ` +
          `${f.ms.decode.toFixed(0)} ms   `,
      ),
    );
  }
  line.end();
}

/** --noise: float32 initial latents, `per` floats for each of `frames` frames. */
function readNoise(file: string, frames: number, per: number): Float32Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    const m = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new UsageError(`--noise ${file}: ${m}`);
  }
  if (bytes.byteLength < 4 * frames * per)
    throw new UsageError(
      `--noise ${file}: holds ${Math.floor(bytes.byteLength / 4)} floats, ${frames} frames need ${frames * per} ` +
        `(${per} per frame)`,
    );
  // copy out: small files are read into Node's shared buffer pool, at an offset
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** An events file: a JSON list of events, each checked with the player's rules (file and index in the message). */
export function readEvents(file: string, screen: { width: number; height: number }): NeuralOSEvent[] {
  let list: unknown;
  try {
    list = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const m = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
    throw new UsageError(`--events ${file}: ${m}`);
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new UsageError(`--events ${file}: expected a non-empty JSON list of events`);
  return list.map((e, i) => {
    try {
      if (typeof e !== 'object' || e === null || Array.isArray(e)) throw new Error('expected an object');
      return parseEvent(e as Record<string, unknown>, screen, true);
    } catch (err) {
      throw new UsageError(`--events ${file}: event ${i}: ${(err as Error).message}`);
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
  const { model, steps } = await loadModel(flags, device);
  const frames = Number(flags.frames ?? 2);
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
