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
import { UsageError, commands, helpText, parseCommandLine, type Flags } from './args.js';
import { defaultRepo } from './hub.js';
import { convert, defaultSteps, demoFiles, loadModel, profileNeuralOS, pulled, runNeuralOS } from './neuralos.js';
import { version } from '../runtime/version.js';
import { kernelsCommand } from './kernels.js';
import { planCommand } from './plan.js';
import { tuneNeuralOS } from './tune.js';
import { startPlayer } from './server.js';
import { isTorchZip } from '../models/weights/open.js';
import { describeTensorCores } from '../backends/backend.js';
import { createServer } from 'node:net';

async function main(): Promise<void> {
  const { command, positional, flags, help } = parseCommandLine(process.argv.slice(2));
  if (flags.version) {
    console.log(`polygrad ${version}`);
    return;
  }
  if (help) {
    console.log(helpText(command === 'help' ? positional[0] : command));
    return;
  }
  if (command === 'convert') {
    if (positional.length !== 2) throw new UsageError(`usage: ${commands.convert!.usage}`);
    return convert(positional[0]!, positional[1]!, !!flags.f16);
  }
  if (command === 'pull') {
    if (positional.length > 1) throw new UsageError(`usage: ${commands.pull!.usage}`);
    console.log(`pulled: ${await pulled(positional[0] ?? defaultRepo)}`);
    return;
  }
  if (['plan', 'tune', 'profile'].includes(command) && positional[0] !== 'neuralos')
    throw new UsageError(`usage: ${commands[command]!.usage}`);
  if (command === 'plan') {
    process.exitCode = await planCommand(flags);
    return;
  } // plans run nothing: no device
  await initDevices();
  const device = typeof flags.device === 'string' ? flags.device : defaultDevice();
  if (command === 'neuralos') return runNeuralOS(flags, device);
  if (command === 'kernels') {
    process.exitCode = await kernelsCommand(['kernels', ...positional], flags);
    return;
  }
  if (command === 'tune') return tuneNeuralOS(flags, device);
  if (command === 'profile') return profileNeuralOS(flags, device);
  if (command === 'play') return play(flags, device);
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
            ? `polygrad play: port ${port} on ${host} is in use (pass --port N, or --port 0 for any free one)`
            : `polygrad play: cannot listen on ${host}:${port}: ${e.message}`,
        ),
      ),
    );
    probe.listen(port, host, () => probe.close(() => resolve()));
  });
}

async function play(flags: Flags, device: string): Promise<void> {
  await checkPortFree(String(flags.host), Number(flags.port));
  const { model, kind } = await loadModel(flags, device);
  const steps = Number(flags.steps ?? defaultSteps[kind]);
  const backend = devices().find((d) => d.name === device)!;
  // one warm-up frame compiles every kernel before anyone connects
  const warm = model.session(),
    c0 = stats.compiles;
  const tick = setInterval(
    () => process.stdout.write(`\rcompiling kernels for the first frame: ${stats.compiles - c0} compiled`),
    250,
  );
  try {
    await warm.step({ x: 0, y: 0 }, { steps });
  } finally {
    clearInterval(tick);
    warm.reset();
  }
  process.stdout.write(`\rcompiled ${stats.compiles - c0} kernels for the first frame\n`);
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
    random: ' — tiny config, RANDOM weights',
    demo: ' — the demo model (64×48, trained on a synthetic desktop)',
    checkpoint: '',
  }[kind];
  console.log(`NeuralOS on ${device} (${backend.description})${what}`);
  console.log(`open ${player.url}   (Ctrl-C to stop)`);
}

main().catch((e: unknown) => {
  // one line, no stack, unless DEBUG asks for it; usage errors exit 2 as CLI convention has it
  console.error(debugLevel() > 0 && e instanceof Error ? e.stack : e instanceof Error ? e.message : e);
  process.exit(e instanceof UsageError ? 2 : 1);
});
