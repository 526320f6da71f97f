// Every kernel the op suite produces, rendered to CUDA C and compiled with `nvcc -ptx -arch=sm_90`.
import { describe, expect, test } from 'vitest';
import { type Tensor, tensor } from '../../index.js';
import { optimize } from '../../codegen/opt.js';
import { plan } from '../../runtime/plan.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';
import { compileAll, nvccAvailable } from './nvcc.js';

const hasNvcc = nvccAvailable();
if (!hasNvcc) console.warn('cuda compile tests skipped: nvcc not found');

describe.skipIf(!hasNvcc)('cuda codegen', () => {
  test('the whole op suite compiles to PTX for sm_90', () => {
    const kernels = cases.flatMap((c) => {
      const xs: Tensor[] = c.inputs.map((s, i) => tensor(Float32Array.from(uniform(s.shape, i).data), { shape: s.shape }));
      const f16 = c.inputs.every((s) => !s.int && !s.values) ? [c.run(...xs.map((x) => x.cast('f16')))] : [];
      return plan(c.run(...xs), ...f16);
    });
    // as planned, and as the optimizer shapes them for a 256-thread block (UPCAST, GROUP)
    const entries = compileAll(kernels.flatMap((k) => [k, optimize(k, { globalsAsLoops: false, workgroupSize: 256, threads: 65536 })]));
    expect(entries.length).toBeGreaterThan(80);
  }, 120_000);
});
