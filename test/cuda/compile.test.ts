// Every kernel the op suite produces, rendered to CUDA C and compiled with `nvcc -ptx -arch=sm_90`.
import { describe, expect, test } from 'vitest';
import { type Tensor, tensor } from '../../index.js';
import { type OptCaps, invalidOpts, nextActions } from '../../codegen/actions.js';
import { optimize } from '../../codegen/heuristic.js';
import type { Kernel, Opt } from '../../codegen/kernel.js';
import { plan } from '../../runtime/plan.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';
import { compileAll, nvccAvailable, ptxasOf } from './nvcc.js';
import { cudaTensorCores } from '../../codegen/cuda.js';

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
      const halves = c.inputs.every((s) => !s.int && !s.values)
        ? (['f16', 'bf16'] as const).map((d) => c.run(...xs.map((x) => x.cast(d))))
        : [];
      return plan(c.run(...xs), ...halves);
    });
    // as planned, as the heuristic shapes them for a 256-thread block (UPCAST, GROUP), and under other valid actions
    const entries = compileAll(kernels.flatMap((k, i) => [k, optimize(k, block), walked(k, i)]));
    expect(entries.length).toBeGreaterThan(80);
  }, 120_000);

  test('bf16 kernels compile for sm_75 too: bf16 computes in float, so nothing needs sm_80 bf16 arithmetic', () => {
    const kernels = cases
      .filter((c) => c.inputs.every((s) => !s.int && !s.values))
      .flatMap((c) => {
        const xs = c.inputs.map((s, i) => tensor(Float32Array.from(uniform(s.shape, i).data), { shape: s.shape }));
        return plan(c.run(...xs.map((x) => x.cast('bf16'))));
      });
    expect(compileAll(kernels, 'sm_75').length).toBeGreaterThan(40);
  }, 120_000);

  test('staged matmuls (STAGE: workgroup-memory tiles between barriers) compile, f32 and f16', () => {
    const caps = { ...block, sharedBytes: 48 * 1024 };
    const mm = (n: number, k: number, m: number, f16: boolean): Kernel => {
      const a = tensor(Float32Array.from(uniform([n, k], 1).data), { shape: [n, k] }),
        b = tensor(Float32Array.from(uniform([k, m], 2).data), { shape: [k, m] });
      return plan(f16 ? a.cast('f16').matmul(b.cast('f16')) : a.matmul(b)).at(-1)!;
    };
    const staged = [false, true].flatMap((f16) =>
      [mm(32, 64, 32, f16), mm(40, 96, 36, f16)].map((k): Kernel => {
        const r = k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
        const opts: Opt[] = [
          ...(k.shape[0]! % 16 ? [{ op: 'PADTO', axis: 0, amount: 16 } as const] : []),
          ...(k.shape[1]! % 16 ? [{ op: 'PADTO', axis: 1, amount: 16 } as const] : []),
          { op: 'LOCAL', axis: 0, amount: 16 },
          { op: 'LOCAL', axis: 1, amount: 16 },
          { op: 'STAGE', axis: r, amount: 16 },
        ];
        expect(invalidOpts(k, opts, caps)).toBeUndefined();
        return { ...k, opts };
      }),
    );
    expect(compileAll(staged).length).toBe(4);
  }, 60_000);

  test('tensor-core matmuls (TC: WMMA) compile without spills: one or four tiles a workgroup, ragged, batched', () => {
    const caps = { ...block, sharedBytes: 48 * 1024, tensorCores: cudaTensorCores(9, 0) };
    const f16 = (shape: number[], seed: number) =>
      tensor(Float32Array.from(uniform(shape, seed).data), { shape }).cast('f16');
    const variants: [number[], number[], Opt[]][] = [
      [[32, 64], [64, 48], []],
      [
        [64, 32],
        [32, 64],
        [
          { op: 'UPCAST', axis: 0, amount: 2 },
          { op: 'UPCAST', axis: 1, amount: 2 },
        ],
      ],
      [
        [40, 48],
        [48, 36],
        [
          { op: 'PADTO', axis: 0, amount: 16 },
          { op: 'PADTO', axis: 1, amount: 16 },
        ],
      ],
      [[3, 32, 32], [3, 32, 16], []],
    ];
    const kernels = variants.map(([a, b, extra]): Kernel => {
      const k = plan(f16(a, 1).matmul(f16(b, 2))).at(-1)!;
      const r = k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
      const row = a.length - 2;
      const opts: Opt[] = [
        ...extra,
        { op: 'LOCAL', axis: row, amount: 16 },
        { op: 'LOCAL', axis: row + 1, amount: 16 },
        { op: 'TC', axis: r, amount: 16 },
      ];
      expect(invalidOpts(k, opts, caps)).toBeUndefined();
      return { ...k, opts };
    });
    expect(compileAll(kernels).length).toBe(4);
    for (const k of kernels) expect(ptxasOf(k).spills, k.name).toBe(0);
  }, 60_000);
});
