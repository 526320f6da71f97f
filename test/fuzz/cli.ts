// npm run fuzz -- --n N --backend B --seed S [--size K] [--jit on|off|both]: N random programs from seed S on
// backend B (cpu, webgpu, cuda) against the float64 reference and the CPU backend. A failure is minimized and
// written to test/fuzz/regressions/, which the test suite replays on every backend; the exit status is 1 if any
// case failed, 2 for bad arguments.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { initDevices } from '../../index.js';
import { type Case, fuzzCase, minimize, reproduce } from './fuzz.js';

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        n: { type: 'string', default: '100' },
        backend: { type: 'string', default: 'cpu' },
        seed: { type: 'string', default: '1' },
        size: { type: 'string', default: '8' },
        jit: { type: 'string', default: 'both' },
      },
      strict: true,
    }));
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    return 2;
  }
  const int = (name: 'n' | 'seed' | 'size', min: number): number => {
    const v = Number(values[name]);
    if (!Number.isSafeInteger(v) || v < min)
      throw new Error(`fuzz: --${name} must be an integer ≥ ${min}, got ${values[name]}`);
    return v;
  };
  const jits = { on: [true], off: [false], both: [false, true] }[values.jit];
  if (!jits) {
    console.error(`fuzz: --jit must be on, off or both, got ${values.jit}`);
    return 2;
  }
  let n: number, seed: number, size: number;
  try {
    n = int('n', 1);
    seed = int('seed', 0);
    size = int('size', 1);
  } catch (e) {
    console.error((e as Error).message);
    return 2;
  }
  const device = values.backend,
    found = await initDevices();
  if (!found.includes(device)) {
    console.error(`fuzz: backend ${device} is not available here (available: ${found.join(', ')})`);
    return 2;
  }
  let failed = 0;
  const started = performance.now();
  for (let s = seed; s < seed + n; s++) {
    for (const jit of jits) {
      const c: Case = { seed: s, device, jit, size },
        f = await fuzzCase(c);
      if (!f) continue;
      failed++;
      const small = await minimize(f);
      const dir = join('test', 'fuzz', 'regressions'),
        file = join(dir, `${device}-${s}-${jit ? 'jit' : 'eager'}.json`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        file,
        `${JSON.stringify({ device, jit, seed: s, size, why: small.why, program: small.program }, null, 1)}\n`,
      );
      console.log(
        `FAIL seed ${s} (${jit ? 'jit' : 'eager'}): ${small.why}\n  minimized to ${small.program.nodes.length} ` +
          `nodes: ${file}\n  again: ${reproduce(c)}`,
      );
    }
  }
  const cases = n * jits.length;
  console.log(
    `fuzz ${device}: ${cases} cases from seed ${seed}, ${failed} failed ` +
      `(${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
  return failed ? 1 : 0;
}

process.exit(await main());
