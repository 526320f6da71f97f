// Every kernel the op suite produces, rendered to CUDA C and compiled with `nvcc -ptx -arch=sm_90`.
import { describe, expect, test } from 'vitest';
import { type Tensor, tensor } from '../../index.js';
import { type OptCaps, nextActions } from '../../codegen/actions.js';
import { optimize } from '../../codegen/heuristic.js';
import type { Kernel } from '../../codegen/kernel.js';
import { plan } from '../../runtime/plan.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';
import { compileAll, nvccAvailable } from './nvcc.js';

const hasNvcc = nvccAvailable();
if (!hasNvcc) console.warn('cuda compile tests skipped: nvcc not found');

const block: OptCaps = { globalsAsLoops: false, workgroupSize: 256, threads: 65536 };
/** Kernel i with a walk of up to three valid actions (the i-th neighbour each step, wrapping): LOCAL, PADTO, GROUP… */
function walked(k: Kernel, i: number): Kernel {
  let opts = k.opts ?? [];
  for (let step = 0; step < 3; step++) {
    const next = nextActions(k, opts, block);
    if (!next.length) break;
    opts = next[(i * 7 + step * 13) % next.length]!;
  }
  return { ...k, opts };
}

describe.skipIf(!hasNvcc)('cuda codegen', () => {
  test('the whole op suite compiles to PTX for sm_90', () => {
    const kernels = cases.flatMap((c) => {
      const xs: Tensor[] = c.inputs.map((s, i) =>
        tensor(Float32Array.from(uniform(s.shape, i).data), { shape: s.shape }),
      );
      const f16 = c.inputs.every((s) => !s.int && !s.values) ? [c.run(...xs.map((x) => x.cast('f16')))] : [];
      return plan(c.run(...xs), ...f16);
    });
    // as planned, as the heuristic shapes them for a 256-thread block (UPCAST, GROUP), and under other valid actions
    const entries = compileAll(kernels.flatMap((k, i) => [k, optimize(k, block), walked(k, i)]));
    expect(entries.length).toBeGreaterThan(80);
  }, 120_000);
});
