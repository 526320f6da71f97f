#!/usr/bin/env node
// The polygrad command. Until the NeuralOS player lands, its default shows the backends found, with
// their capabilities, and runs one small fused computation on each with DEBUG=2 kernel lines.
import { devices, initDevices, randn, setDebug, debugLevel, stats, memory, unavailable } from '../index.js';

async function main(): Promise<void> {
  await initDevices();
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
