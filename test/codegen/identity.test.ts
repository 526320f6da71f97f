// Stable kernel identity: the same computation gets the same kernel name, range numbering, key and source
// whatever was built or scheduled before it (the compile cache, profiles and contributed kernels key on it).
// Each history runs in a fresh copy of the library (vi.resetModules), so node ids really differ between them.
import { expect, test, vi } from 'vitest';

type Lib = typeof import('../../index.js');
interface Pieces {
  lib: Lib;
  plan: typeof import('../../runtime/plan.js').plan;
  kernel: typeof import('../../codegen/kernel.js');
}

async function fresh(): Promise<Pieces> {
  vi.resetModules();
  return {
    lib: await import('../../index.js'),
    plan: (await import('../../runtime/plan.js')).plan,
    kernel: await import('../../codegen/kernel.js'),
  };
}

/** Name, key and the sources for the three targets of every kernel the tensors schedule into. */
async function describeKernels(
  p: Pieces,
  ...ts: import('../../index.js').Tensor[]
): Promise<{ name: string; key: string; sources: string[] }[]> {
  const { optimize } = await import('../../codegen/heuristic.js');
  const { linearize } = await import('../../codegen/linearize.js');
  const { render } = await import('../../codegen/render.js');
  const { jsLanguage } = await import('../../codegen/js.js');
  const { wgslLanguage } = await import('../../codegen/wgsl.js');
  const { cudaLanguage } = await import('../../codegen/cuda.js');
  return p.plan(...ts).map((k) => ({
    name: k.name,
    key: p.kernel.kernelKey(k),
    sources: [
      [jsLanguage, true],
      [wgslLanguage, false],
      [cudaLanguage, false],
    ].map(([lang, cpu]) => {
      const o = optimize(k, { globalsAsLoops: cpu as boolean, workgroupSize: 64, threads: 65536 });
      return render(o, linearize(o, cpu as boolean), lang as typeof jsLanguage).source;
    }),
  }));
}

const inputs = async (lib: Lib) => ({
  x: await lib.randn([1, 4, 9, 9], { seed: 1 }).realize(),
  w: await lib.randn([6, 4, 3, 3], { seed: 2 }).realize(),
  y: await lib.randn([64, 64], { seed: 3 }).realize(),
  e: await lib.randn([10, 8], { seed: 4 }).realize(),
});

test('a conv, a sum and a gather are the same kernels whether built alone or after and beside other work', async () => {
  const a = await fresh();
  const A = await inputs(a.lib);
  const alone = {
    conv: await describeKernels(a, A.x.conv2d(A.w, undefined, { padding: 1 }).relu()),
    sum: await describeKernels(a, A.y.sum(1)),
    gather: await describeKernels(a, a.lib.tensor([3, 1, 7], { dtype: 'i32' }).embedding(A.e).mul(2)),
  };
  const b = await fresh();
  const B = await inputs(b.lib);
  // another history: other graphs built and scheduled first, the sum's keepdim sibling named before it
  await B.y.softmax(-1).matmul(B.y.T).data();
  b.plan(B.y.sum(1, true));
  await b.lib
    .tensor([5, 0], { dtype: 'i32' })
    .embedding(B.e)
    .add(B.e.narrow(0, 0, 2))
    .data();
  expect(await describeKernels(b, B.y.sum(1)), 'sum after its keepdim sibling').toEqual(alone.sum);
  // scheduled together with a sum: its reduce ranges are numbered as if alone
  const both = await describeKernels(b, B.y.sum(0), B.x.conv2d(B.w, undefined, { padding: 1 }).relu());
  expect(
    both.filter((k) => k.name === alone.conv[0]!.name),
    'conv scheduled with a sum',
  ).toEqual(alone.conv);
  expect(both).toHaveLength(2);
  expect(await describeKernels(b, b.lib.tensor([3, 1, 7], { dtype: 'i32' }).embedding(B.e).mul(2)), 'gather').toEqual(
    alone.gather,
  );
  expect(alone.sum[0]!.name).toBe('r_sum_64_64');
});

test('names stay with the op that made a node: a matmul of lazy inputs renames no older graph', async () => {
  const a = await fresh();
  const later = (lib: Lib) =>
    lib
      .randn([64, 128], { seed: 3 })
      .add(lib.randn([64, 128], { seed: 4 }))
      .exp()
      .sum();
  const alone = (await describeKernels(a, later(a.lib))).map((k) => k.name);
  const b = await fresh();
  // linear transposes w, and matmul transposes it back: the fold reaches w's own (randn) graph below the input
  const x = b.lib.randn([64, 128], { seed: 1 }),
    w = b.lib.randn([32, 128], { seed: 2 });
  const names = (await describeKernels(b, x.linear(w).relu())).map((k) => k.name);
  expect(
    names.filter((n) => n.includes('matmul')),
    names.join(', '),
  ).toHaveLength(1);
  expect((await describeKernels(b, later(b.lib))).map((k) => k.name)).toEqual(alone);
});
