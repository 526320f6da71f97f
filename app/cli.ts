#!/usr/bin/env node
// The polygrad command: by default the NeuralOS player (a local server + page, the model on the best
// backend found); `devices` shows the backends with their capabilities and a fused run on each;
// `neuralos` renders an event list to PNG frames; `convert` rewrites a checkpoint as safetensors.
import { defaultDevice, devices, initDevices, randn, setDebug, debugLevel, stats, memory, unavailable } from '../index.js';
import { convert, loadModel, parseFlags, profileNeuralOS, runNeuralOS } from './neuralos.js';
import { kernelsCommand } from './kernels.js';
import { planCommand } from './plan.js';
import { tuneNeuralOS } from './tune.js';
import { startPlayer } from './server.js';
import { isTorchZip } from '../models/weights/state.js';

async function main(): Promise<void> {
  const { positional, flags } = parseFlags(process.argv.slice(2));
  const command = positional[0];
  if (command === 'convert') {
    if (positional.length < 3) throw new Error('usage: polygrad convert IN OUT.safetensors [--f16]');
    return convert(positional[1]!, positional[2]!, !!flags.f16);
  }
  await initDevices();
  const device = typeof flags.device === 'string' ? flags.device : defaultDevice();
  if (command === 'neuralos') return runNeuralOS(flags, device);
  if (command === 'kernels') { process.exitCode = await kernelsCommand(positional, flags); return; }
  if (command === 'plan') {
    if (positional[1] !== 'neuralos') throw new Error('usage: polygrad plan neuralos [--config full|tiny|FILE] [--dtype f32|f16] [--limits webgpu-default|lavapipe|cuda|FILE] [--memory 8GB] [--json]');
    process.exitCode = await planCommand(flags);
    return;
  }
  if (command === 'tune') {
    if (positional[1] !== 'neuralos') throw new Error('usage: polygrad tune neuralos [--config tiny|full|FILE] [--steps S] [--frames N] [--beam N] [--budget SECONDS] [--checkpoint FILE]');
    return tuneNeuralOS(flags, device);
  }
  if (command === 'profile') {
    if (positional[1] !== 'neuralos') throw new Error('usage: polygrad profile neuralos [--frames N] [--steps S] [--trace FILE] [--checkpoint FILE]');
    return profileNeuralOS(flags, device);
  }
  if (command === undefined || command === 'play') return play(flags, device);
  if (command !== 'devices') throw new Error(`polygrad: unknown command '${command}' (commands: play (default), devices, neuralos, profile, tune, plan, kernels, convert)`);
  const found = devices();
  console.log(`polygrad: ${found.length} backend${found.length === 1 ? '' : 's'} found (${found.map((d) => d.name).join(', ')})`);
  for (const [name, why] of unavailable) console.log(`  ${name}: not available (${why})`);
  for (const d of found) {
    const c = d.caps;
    console.log(`\n${d.name}: ${d.description}`);
    console.log(`  dtypes ${[...c.dtypes].join(' ')} | max buffers/kernel ${c.maxBuffers} | max buffer ${(c.maxBufferBytes / 2 ** 20).toFixed(0)} MiB (larger tensors in chunks) | workgroup ${c.workgroupSize} | grid ${c.maxGrid} | timer ${c.timer}`);
    const level = debugLevel();
    setDebug(Math.max(level, 2));
    const x = randn([64, 128], { seed: 1, device: d.name }), w = randn([32, 128], { seed: 2, device: d.name });
    const y = x.linear(w).relu().softmax(-1);
    const rows = y.sum(1), row = await rows.data();
    setDebug(level);
    const ok = row.every((v) => Math.abs(v - 1) < 1e-4);
    console.log(`  softmax(relu(x @ wᵀ)) rows sum to 1: ${ok ? 'yes' : 'NO'} | kernels run ${stats.kernels}, compiled ${stats.compiles} | live buffers ${memory().buffers}`);
    for (const t of [x, w, y, rows]) t.dispose();
  }
}

async function play(flags: Record<string, string | boolean>, device: string): Promise<void> {
  const { model, randomWeights } = await loadModel(flags, device);
  const steps = Number(flags.steps ?? (randomWeights ? 4 : 16));
  const backend = devices().find((d) => d.name === device)!;
  // one warm-up frame compiles every kernel before anyone connects
  const warm = model.session(), c0 = stats.compiles;
  const tick = setInterval(() => process.stdout.write(`\rcompiling kernels for the first frame: ${stats.compiles - c0} compiled`), 250);
  try { await warm.step({ x: 0, y: 0 }, { steps }); } finally { clearInterval(tick); warm.reset(); }
  process.stdout.write(`\rcompiled ${stats.compiles - c0} kernels for the first frame\n`);
  const info = { backend: device, adapter: backend.description, screen: model.cfg.screen, randomWeights, steps };
  const player = await startPlayer({
    model, host: typeof flags.host === 'string' ? flags.host : '127.0.0.1', port: Number(flags.port ?? 8080),
    steps, maxClients: Number(flags['max-clients'] ?? 4), info,
    allowOrigins: typeof flags['allow-origin'] === 'string' ? flags['allow-origin'].split(',') : undefined,
    weightsFile: typeof flags.checkpoint === 'string' && /\.safetensors$/.test(flags.checkpoint) && !isTorchZip(flags.checkpoint) ? flags.checkpoint : undefined,
  });
  console.log(`NeuralOS on ${device} (${backend.description})${randomWeights ? ' — tiny config, RANDOM weights (pass --checkpoint FILE)' : ''}`);
  console.log(`open ${player.url}   (Ctrl-C to stop)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
