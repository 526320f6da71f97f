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
import { cudaLanguage, cudaTensorCores } from '../../codegen/cuda.js';
import { linearize } from '../../codegen/linearize.js';
import { render } from '../../codegen/render.js';

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

  test('TC matmuls compile without spills: WMMA (1 or 4 tiles a block, ragged, batched), mma.sync, f16, bf16', () => {
    const caps = { ...block, sharedBytes: 48 * 1024, tensorCores: cudaTensorCores(9, 0) };
    const half = (shape: number[], seed: number, d: 'f16' | 'bf16') =>
      tensor(Float32Array.from(uniform(shape, seed).data), { shape }).cast(d);
    const upcast: Opt[] = [
      { op: 'UPCAST', axis: 0, amount: 2 },
      { op: 'UPCAST', axis: 1, amount: 2 },
    ];
    const padded: Opt[] = [
      { op: 'PADTO', axis: 0, amount: 16 },
      { op: 'PADTO', axis: 1, amount: 16 },
    ];
    type Variant = [number[], number[], Opt[], [number, number], 'f16' | 'bf16', string];
    const variants: Variant[] = [
      [[32, 64], [64, 48], [], [16, 16], 'f16', 'wmma::mma_sync'],
      [[64, 32], [32, 64], upcast, [16, 16], 'f16', 'wmma::mma_sync'],
      [[40, 48], [48, 36], padded, [16, 16], 'f16', 'wmma::mma_sync'],
      [[3, 32, 32], [3, 32, 16], [], [16, 16], 'f16', 'wmma::mma_sync'],
      [[32, 64], [64, 48], [], [16, 16], 'bf16', 'wmma::mma_sync'],
      [[64, 64], [64, 32], [], [32, 8], 'f16', 'pg_mma_m16n8k16_f16('],
      [[64, 32], [32, 64], upcast, [32, 8], 'bf16', 'pg_mma_m16n8k16_bf16('],
    ];
    const kernels = variants.map(([a, b, extra, [tm, tn], d, call]): Kernel => {
      const k = plan(half(a, 1, d).matmul(half(b, 2, d))).at(-1)!;
      const r = k.stores[0]!.toposort().find((u) => u.op === 'RANGE' && u.range.kind === 'reduce')!.range.id;
      const row = a.length - 2;
      const opts: Opt[] = [
        ...extra,
        { op: 'LOCAL', axis: row, amount: tm },
        { op: 'LOCAL', axis: row + 1, amount: tn },
        { op: 'TC', axis: r, amount: 16 },
      ];
      expect(invalidOpts(k, opts, caps)).toBeUndefined();
      expect(render({ ...k, opts }, linearize({ ...k, opts }, false), cudaLanguage).source).toContain(call);
      return { ...k, opts };
    });
    expect(compileAll(kernels).length).toBe(variants.length);
    for (const k of kernels) expect(ptxasOf(k).spills, k.name).toBe(0);
  }, 60_000);
});
