#!/usr/bin/env node
// The polygrad command: by default the NeuralOS player (a local server + page, the model on the best
// backend found); `devices` shows the backends with their capabilities and a fused run on each;
// `neuralos` renders an event list to PNG frames; `convert` rewrites a checkpoint as safetensors.
import {
  defaultDevice,
  devices,
  initDevices,
  randn,
  setDebug,
  debugLevel,
  stats,
  memory,
  unavailable,
} from '../index.js';
import { type Flags, type Parsed, UsageError, helpText, parseCommandLine } from './args.js';
import { defaultRepo, parseModelRef } from './hub.js';
import {
  chooseModel,
  convert,
  demoFiles,
  loadModel,
  profileNeuralOS,
  progressLine,
  pulled,
  runNeuralOS,
} from './neuralos.js';
import { version } from '../runtime/version.js';
import { kernelsCommand } from './kernels.js';
import { planCommand } from './plan.js';
import { tuneNeuralOS } from './tune.js';
import { startPlayer } from './server.js';
import { isTorchZip } from '../models/weights/open.js';
import { describeTensorCores } from '../backends/backend.js';
import { existsSync, realpathSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs one command line and returns its exit status: 0, 1 for a failure, 2 for a usage error (a bad command, argument,
 * flag or value, found before anything loads). An error is printed as one line, `polygrad <command>: …` (DEBUG=1
 * adds the stack).
 */
export async function run(argv: readonly string[]): Promise<number> {
  let command: string | undefined;
  try {
    const parsed = parseCommandLine(argv);
    command = parsed.command;
    return await main(parsed);
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    const line =
      m.startsWith('polygrad') || command === undefined
        ? m
        : `polygrad ${command}: ${m.startsWith(`${command}: `) ? m.slice(command.length + 2) : m}`;
    console.error(debugLevel() > 0 && e instanceof Error ? `${line}\n${e.stack}` : line);
    return e instanceof UsageError ? 2 : 1;
  }
}

/** The command's work; its exit status. */
async function main({ command, positional, flags, help }: Parsed): Promise<number> {
  if (flags.version) {
    console.log(`polygrad ${version}`);
    return 0;
  }
  if (help) {
    console.log(helpText(command === 'help' ? positional[0] : command));
    return 0;
  }
  if (command === 'convert') {
    const [input, output] = positional as [string, string];
    if (!existsSync(input)) throw new UsageError(`IN ${input}: no such file`);
    if (!existsSync(dirname(resolve(output)))) throw new UsageError(`OUT ${output}: no folder ${dirname(output)}`);
    convert(input, output, !!flags.f16);
    return 0;
  }
  if (command === 'pull') {
    const ref = positional[0] ?? defaultRepo;
    parseModelRef(ref, `'${ref}'`); // a usage error before any request
    console.log(`pulled: ${await pulled(ref)}`);
    return 0;
  }
  if (command === 'plan') return planCommand(flags); // plans run nothing: no device
  // flag values that name files, a config, a model: checked before devices are probed or anything loads
  if (['play', 'neuralos', 'profile', 'tune'].includes(command)) chooseModel(flags);
  await initDevices();
  const device = typeof flags.device === 'string' ? flags.device : defaultDevice();
  const names = devices().map((d) => d.name);
  if (!names.includes(device))
    throw new UsageError(
      `--device ${device}: not available here: ${unavailable.get(device) ?? 'not found'} (available: ` +
        `${names.join(', ')})`,
    );
  if (command === 'kernels') return kernelsCommand(['kernels', ...positional], flags);
  if (command === 'neuralos') await runNeuralOS(flags, device);
  else if (command === 'tune') await tuneNeuralOS(flags, device);
  else if (command === 'profile') await profileNeuralOS(flags, device);
  else if (command === 'play') await play(flags, device);
  else await listDevices();
  return 0;
}

/** `polygrad devices`: each backend found (and why the others are not), its limits, and a fused run on it. */
async function listDevices(): Promise<void> {
  const found = devices();
  console.log(
    `polygrad: ${found.length} backend${found.length === 1 ? '' : 's'} found (${found.map((d) => d.name).join(', ')})`,
  );
  for (const [name, why] of unavailable) console.log(`  ${name}: not available (${why})`);
  for (const d of found) {
    const c = d.caps;
    console.log(`\n${d.name}: ${d.description}`);
    console.log(
      `  dtypes ${[...c.dtypes].join(' ')} | max buffers/kernel ${c.maxBuffers} | max buffer ` +
        `${(c.maxBufferBytes / 2 ** 20).toFixed(0)} MiB (larger tensors in chunks) | workgroup ${c.workgroupSize} | ` +
        `grid ${c.maxGrid} | timer ${c.timer}`,
    );
    console.log(`  tensor cores: ${describeTensorCores(c.tensorCores)}`);
    const level = debugLevel();
    setDebug(Math.max(level, 2));
    const x = randn([64, 128], { seed: 1, device: d.name }),
      w = randn([32, 128], { seed: 2, device: d.name });
    const y = x.linear(w).relu().softmax(-1);
    const rows = y.sum(1),
      row = await rows.data();
    setDebug(level);
    const ok = row.every((v) => Math.abs(v - 1) < 1e-4);
    console.log(
      `  softmax(relu(x @ wᵀ)) rows sum to 1: ${ok ? 'yes' : 'NO'} | kernels run ${stats.kernels}, compiled ` +
        `${stats.compiles} | live buffers ${memory().buffers}`,
    );
    for (const t of [x, w, y, rows]) t.dispose();
  }
}

/** Fails before the model loads when host:port is taken: the warm-up compiles for a while first. */
async function checkPortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new UsageError(
          e.code === 'EADDRINUSE'
            ? `port ${port} on ${host} is in use (pass --port N, or --port 0 for any free one)`
            : `cannot listen on ${host}:${port}: ${e.message}`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function play(flags: Flags, device: string): Promise<void> {
  await checkPortFree(String(flags.host), Number(flags.port));
  const { model, kind, config, steps } = await loadModel(flags, device);
  const backend = devices().find((d) => d.name === device)!;
  // one warm-up frame compiles every kernel before anyone connects
  const warm = model.session(),
    c0 = stats.compiles,
    line = progressLine();
  const tick = setInterval(
    () => line.update(`compiling kernels for the first frame: ${stats.compiles - c0} compiled`),
    250,
  );
  try {
    await warm.step({ x: 0, y: 0 }, { steps });
  } finally {
    clearInterval(tick);
    warm.reset();
  }
  line.update(`compiled ${stats.compiles - c0} kernels for the first frame`.padEnd(50));
  line.end();
  const info = {
    backend: device,
    adapter: backend.description,
    screen: model.cfg.screen,
    model: kind,
    randomWeights: kind === 'random',
    steps,
    kernels: stats.compiles - c0,
  };
  const checkpoint = typeof flags.checkpoint === 'string' ? flags.checkpoint : undefined;
  const player = await startPlayer({
    model,
    host: String(flags.host),
    port: Number(flags.port),
    steps,
    maxClients: Number(flags['max-clients']),
    info,
    simulator: kind === 'demo',
    allowOrigins: typeof flags['allow-origin'] === 'string' ? flags['allow-origin'].split(',') : undefined,
    weightsFile:
      kind === 'demo'
        ? demoFiles!.weights
        : checkpoint && /\.safetensors$/.test(checkpoint) && !isTorchZip(checkpoint)
          ? checkpoint
          : undefined,
  });
  const what = {
    random: ` — ${config} config, RANDOM weights`,
    demo: ' — the demo model (64×48, trained on a synthetic desktop)',
    checkpoint: '',
  }[kind];
  console.log(`NeuralOS on ${device} (${backend.description})${what}`);
  console.log(`open ${player.url}   (Ctrl-C to stop)`);
}

// as the polygrad command (npm's bin is a link to this file), not when a test imports run()
if (process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const status = await run(process.argv.slice(2));
  // a failure ends at once (worker threads, a half-started server); success ends when the work does (the player)
  if (status === 1 || status === 2) process.exit(status);
  process.exitCode = status;
}
