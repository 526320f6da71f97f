// Vector loads (codegen/vectorize.ts): an input every load of which is one of 4 adjacent, 4-aligned, ungated
// elements is read as 4-vectors on GPU targets; an input read from an offset that is not a multiple of 4, or also
// read elsewhere, stays scalar; outputs stay scalar. Then the same graphs on every backend against float64.
import { describe, expect, test } from 'vitest';
import type { OptCaps } from '../../codegen/actions.js';
import { cudaLanguage } from '../../codegen/cuda.js';
import { optimize } from '../../codegen/heuristic.js';
import type { Kernel } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { render } from '../../codegen/render.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { type Tensor, tensor } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { backends } from '../backends.js';

const gpu: OptCaps = { globalsAsLoops: false, workgroupSize: 256, threads: 65536 };
const flat = (n: number, seed: number): Float32Array =>
  Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.61 + seed) * 3);

/** Graphs over a [64, 256] view (outputs enough for 4 a thread) of a buffer of 64·256 + 8 elements, from `from`. */
const graphs = (device: string, from: number) => {
  const n = 64 * 256,
    a = flat(n + 8, 1),
    b = flat(n, 2);
  const x = tensor(a, { device })
      .shrink([[from, from + n]])
      .reshape([64, 256]),
    y = tensor(b, { shape: [64, 256], device });
  const want = (f: (u: number, v: number) => number) =>
    Float64Array.from({ length: n }, (_, i) => f(a[from + i]!, b[i]!));
  return [
    // one axis: the vector index is the thread's own, times 4
    {
      name: 'flat x - y',
      t: x.reshape([n]).sub(y.reshape([n])),
      want: want((u, v) => u - v),
    },
    // adjacent outputs: 4 a thread along the contiguous axis
    { name: 'x * y + 1', t: x.mul(y).add(1), want: want((u, v) => u * v + 1) },
    // y read at [i, j] and at [i, j + 1] (a shifted load: no whole group of 4 from a multiple of 4)
    {
      name: 'x + y[:, 1:] padded',
      t: x.add(y.shrink([null, [1, 256]]).pad([0, 1])),
      want: Float64Array.from({ length: n }, (_, i) => a[from + i]! + (i % 256 < 255 ? b[i + 1]! : 0)),
    },
  ];
};

const source = (t: Tensor, lang: 'wgsl' | 'cuda'): string => {
  const [k] = plan(t) as [Kernel];
  const o = optimize(k, gpu);
  return render(o, linearize(o, false), lang === 'wgsl' ? wgslFor(256) : cudaLanguage).source;
};
const binding = (src: string, i: number): string | undefined =>
  new RegExp(`var<storage, read(?:_write)?> d${i}: (array<[^;]*>);`).exec(src)?.[1];

describe('which inputs are read as 4-vectors', () => {
  test('4-aligned contiguous inputs are; the output, and an input at an odd offset, are not', () => {
    const [, aligned] = graphs('cpu', 4),
      [, odd] = graphs('cpu', 3);
    const src = source(aligned!.t, 'wgsl');
    expect([binding(src, 0), binding(src, 1), binding(src, 2)]).toEqual([
      'array<f32>',
      'array<vec4<f32>>',
      'array<vec4<f32>>',
    ]);
    // one vector load per input and thread: the four lanes share it
    expect(src.match(/= d1\[/g)).toHaveLength(1);
    const offset = source(odd!.t, 'wgsl');
    expect([binding(offset, 1), binding(offset, 2)]).toEqual(['array<f32>', 'array<vec4<f32>>']);
    expect(source(aligned!.t, 'cuda')).toMatch(/reinterpret_cast<const float4 \*>\(d1\)/);
  });
  test('a shifted read of an input keeps that input scalar', () => {
    const [, , shifted] = graphs('cpu', 0);
    const src = source(shifted!.t, 'wgsl');
    expect(binding(src, 1)).toBe('array<vec4<f32>>');
    expect(binding(src, 2)).toBe('array<f32>');
  });
});

describe.each(backends)('vector loads compute what float64 does on %s', (device) => {
  test.each([0, 3, 4])('inputs from element %i of their buffer', async (from) => {
    for (const g of graphs(device, from)) {
      const got = await g.t.data();
      const bad = g.want.findIndex((w, i) => !(Math.abs(got[i]! - w) <= 1e-5 * (1 + Math.abs(w))));
      expect(bad, `${g.name}: [${bad}] ${got[bad]} vs ${g.want[bad]}`).toBe(-1);
    }
  });
});
