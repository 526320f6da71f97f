#!/usr/bin/env node
// The polygrad command. Until the NeuralOS player lands, its default shows the backends found, with
// their capabilities, and runs one small fused computation on each with DEBUG=2 kernel lines.
import { defaultDevice, devices, initDevices, randn, setDebug, debugLevel, stats, memory, unavailable } from '../index.js';
import { convert, parseFlags, runNeuralOS } from './neuralos.js';

async function main(): Promise<void> {
  const { positional, flags } = parseFlags(process.argv.slice(2));
  const command = positional[0];
  if (command === 'convert') {
    if (positional.length < 3) throw new Error('usage: polygrad convert IN OUT.safetensors [--f16]');
    return convert(positional[1]!, positional[2]!, !!flags.f16);
  }
  await initDevices();
  if (command === 'neuralos') return runNeuralOS(flags, typeof flags.device === 'string' ? flags.device : defaultDevice());
  if (command && command !== 'devices') throw new Error(`polygrad: unknown command '${command}' (commands: devices, neuralos, convert)`);
  const found = devices();
  console.log(`polygrad: ${found.length} backend${found.length === 1 ? '' : 's'} found (${found.map((d) => d.name).join(', ')})`);
  for (const [name, why] of unavailable) console.log(`  ${name}: not available (${why})`);
  for (const d of found) {
    const c = d.caps;
    console.log(`\n${d.name}: ${d.description}`);
    console.log(`  dtypes ${[...c.dtypes].join(' ')} | max buffers/kernel ${c.maxBuffers} | max buffer ${(c.maxBufferBytes / 2 ** 20).toFixed(0)} MiB | timer ${c.timer}`);
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

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
