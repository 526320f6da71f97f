// docs/KERNELS.md: its example is what `polygrad kernels new` writes, and that kernel passes the checks: it is used
// and matches float64 on every backend it declares.
import { existsSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';
import { kernelsCommand, template, templateOps } from '../../app/kernels.js';
import { checkCase, runsOn } from '../../kernels/check.js';
import type { KernelDef } from '../../kernels/define.js';
import { registerKernel } from '../../runtime/composite.js';
import { checkKernels } from '../../scripts/kernels.js';
import { kernels } from '../../kernels/index.js';
import { devices } from '../../index.js';
import { backends } from '../backends.js';

test(
  "the guide's example is the template, and the template kernel passes check on every backend it " + 'declares',
  async () => {
    const doc = readFileSync('docs/KERNELS.md', 'utf8');
    const example = /The template is a complete kernel[\s\S]*?```ts\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBe(template('my_softmax', 'softmax'));
    const dir = mkdtempSync(join(tmpdir(), 'polygrad-guide-'));
    writeFileSync(join(dir, 'my_softmax.ts'), example!);
    symlinkSync(resolve('kernels/define.ts'), join(dir, 'define.ts'));
    expect(checkKernels(dir).errors).toEqual([]);
    const def = (await import(join(dir, 'my_softmax.ts'))).default as KernelDef;
    registerKernel(def);
    for (const device of backends.filter((d) => runsOn(def, d))) {
      for (const c of def.cases) {
        const r = await checkCase(def, c, device);
        expect(r.used, `${device}: ${c.name} used`).toBe(true);
        expect(r.kernelError, `${device}: ${c.name}`).toBeLessThanOrEqual(r.tol);
      }
    }
  },
);

test.each(templateOps.filter((op) => op !== 'softmax'))('the %s template passes too', async (op) => {
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-guide-')),
    name = `my_${op.toLowerCase()}`;
  writeFileSync(join(dir, `${name}.ts`), template(name, op));
  symlinkSync(resolve('kernels/define.ts'), join(dir, 'define.ts'));
  expect(checkKernels(dir).errors).toEqual([]);
  const def = (await import(join(dir, `${name}.ts`))).default as KernelDef;
  registerKernel(def);
  for (const device of backends.filter((d) => runsOn(def, d)))
    for (const c of def.cases) {
      const r = await checkCase(def, c, device);
      expect(r.used && r.kernelError <= r.tol, `${device}: ${c.name} (${r.kernelError})`).toBe(true);
      expect(r.generatedError, `${device}: ${c.name}: generated vs float64`).toBeLessThanOrEqual(r.tol);
    }
});

test('kernels check: ok lines and status 0 where cases ran; status 1 when nothing could be checked', async () => {
  const lines: string[] = [],
    log = console.log,
    path = process.env.PATH;
  console.log = (s: unknown) => lines.push(String(s));
  try {
    expect(await kernelsCommand(['kernels', 'check', 'softmax_rows'], {})).toBe(0);
    expect(lines.some((l) => l.startsWith('ok   softmax_rows on cpu'))).toBe(true);
    // a CUDA-only kernel with no CUDA device here and no nvcc on the PATH: nothing ran, so no green
    process.env.PATH = path
      ?.split(':')
      .filter((d) => !existsSync(join(d, 'nvcc')))
      .join(':');
    lines.length = 0;
    const wmma = kernels.find((k) => k.name === 'matmul_wmma')!,
      none = !devices().some((d) => runsOn(wmma, d.name));
    // (where a CUDA device is here, even the emulator, its cases would run: slow, and the first half showed that)
    if (none) expect(await kernelsCommand(['kernels', 'check', 'matmul_wmma'], {})).toBe(1);
    if (none) expect(lines.at(-1)).toBe('nothing checked: matmul_wmma: no device declared is here, and no nvcc');
  } finally {
    console.log = log;
    process.env.PATH = path;
  }
}, 120_000);
