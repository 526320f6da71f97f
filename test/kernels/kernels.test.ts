// Every contributed kernel, on every backend it runs on, on each of its cases: it is used, and it and the
// generated path both agree with the float64 reference within the case's tolerance.
import { describe, expect, test } from 'vitest';
import { checkCase, compileCuda, runsOn } from '../../kernels/check.js';
import { nvccAvailable } from '../cuda/nvcc.js';
import { kernels } from '../../kernels/index.js';
import { backends } from '../backends.js';

describe.each(backends)('contributed kernels on %s', (device) => {
  for (const def of kernels) {
    test
      .skipIf(!runsOn(def, device))
      .each(def.cases.filter((c) => !c.name.startsWith('bench')).map((c) => [c.name, c] as const))(
      `${def.name}: %s`,
      async (_, c) => {
        const r = await checkCase(def, c, device);
        expect(r.used, 'the kernel ran').toBe(true);
        expect(r.kernelError, 'kernel vs float64').toBeLessThanOrEqual(r.tol);
        expect(r.generatedError, 'generated vs float64').toBeLessThanOrEqual(r.tol);
      },
    );
  }
});

describe.skipIf(!nvccAvailable())('contributed CUDA sources', () => {
  test.each(kernels.filter((k) => k.impl.kind === 'source' && k.impl.sources.cuda).map((k) => [k.name, k] as const))(
    '%s compiles with nvcc for sm_90 on every case, without spills',
    (_, def) => {
      const report = compileCuda(def);
      expect(report.length).toBe(def.cases.length);
      for (const r of report) {
        expect(r.registers, r.case).toBeGreaterThan(0);
        expect(r.spills, r.case).toBe(0);
      }
    },
    120_000,
  );
});
