// GROUP: on GPUs, kernels with few outputs and long reduces split each reduce across a workgroup's lanes;
// the CPU (globals run as loops) never gets it, and big outputs keep one thread per output block.
import { describe, expect, test } from 'vitest';
import { tensor, type Tensor } from '../../index.js';
import type { Kernel } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { optimize } from '../../codegen/heuristic.js';
import { render } from '../../codegen/render.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { cudaLanguage } from '../../codegen/cuda.js';
import { plan } from '../../runtime/plan.js';

const gpu = { globalsAsLoops: false, workgroupSize: 256, threads: 65536 },
  cpu = { globalsAsLoops: true, workgroupSize: 1, threads: 1 };
const rand = (shape: number[]): Tensor =>
  tensor(
    Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i)),
    { shape },
  );
const only = (t: Tensor): Kernel => {
  const ks = plan(t);
  expect(ks).toHaveLength(1);
  return ks[0]!;
};
const actions = (k: Kernel, caps = gpu): string[] =>
  (optimize(k, caps).opts ?? []).map((o) => `${o.op}(${o.axis}, ${o.amount})`);

describe('GROUP', () => {
  test('a full sum runs on one workgroup of 256 lanes', () => {
    expect(actions(only(rand([4097]).sum()))).toEqual(['GROUP(0, 256)']);
  });
  test('a 4096-wide GEMV gives each output 16 lanes, laid out along whichever axis is contiguous in the weight', () => {
    // W[k, n]: adjacent outputs
    expect(actions(only(rand([1, 4096]).matmul(rand([4096, 4096]))))).toEqual(['GROUPWIDE(2, 16)']);
    // W[n, k]: adjacent lanes
    expect(actions(only(rand([1, 4096]).linear(rand([4096, 4096]))))).toEqual(['GROUP(2, 16)']);
  });
  test('softmax groups both of its row reduces (max and sum)', () => {
    const ks = plan(rand([64, 16384]).softmax(-1));
    expect(ks.flatMap((k) => actions(k).map((a) => a.split('(')[0]))).toContain('GROUP');
  });
  test('never on the CPU, and not for a big matmul', () => {
    expect(actions(only(rand([4097]).sum()), cpu)).toEqual([]);
    expect(actions(only(rand([512, 512]).matmul(rand([512, 512]))))).toEqual(['UPCAST(1, 8)', 'UPCAST(0, 4)']);
  });
  test('short reduces stay serial: each lane would get fewer than 4 iterations', () => {
    expect(actions(only(rand([15]).sum()))).toEqual([]);
  });
  test.each([
    ['wgsl', wgslFor(256), 'workgroupBarrier();', 'var<workgroup> sh'],
    ['cuda', cudaLanguage, '__syncthreads();', '__shared__ float sh'],
  ] as const)(
    '%s: lanes stride the reduce, combine through workgroup memory, one lane stores',
    (_, lang, barrier, shared) => {
      const k = optimize(only(rand([2, 1000]).sum(1)), gpu);
      const src = render(k, linearize(k, false), lang).source;
      expect(src).toContain(shared);
      expect(src).toContain(barrier);
      expect(src).toMatch(/for \(.*r\d+(: i32)? = first; r\d+ < 1000; r\d+ \+= 128\)/);
      expect(src).toMatch(/if \(owner\) \{ d0\[/);
    },
  );
});
