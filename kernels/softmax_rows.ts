// Softmax along the last dim as one kernel written in polygrad's IR: each output reads its row's max and sum, which
// the CPU computes once per row (they do not depend on the column, so they sit outside its loop). On GPUs every
// thread would recompute them: there the generated two kernels are the better program, so this one stays on the CPU.
import { defineKernel } from './define.js';

export default defineKernel({
  name: 'softmax_rows',
  op: 'softmax',
  description:
    'softmax over the last dim in one IR kernel: row max, row sum and the normalized row in one pass per row (CPU)',
  devices: ['cpu'],
  applies: ({ x, dim }, caps) =>
    caps.globalsAsLoops && x.dtype === 'f32' && x.shape.length >= 1 && dim === x.shape.length - 1,
  cases: [
    { name: 'rows of 1000', inputs: [[6, 1000]] },
    { name: 'a strided input', inputs: [[40, 24]], transposed: [0] },
    { name: '4-d, last dim', inputs: [[2, 3, 5, 17]] },
    { name: 'bench: 256 rows of 1024', inputs: [[256, 1024]] },
  ],
  impl: {
    kind: 'ir',
    build: (ir, { x }) => {
      const n = x.shape.length,
        len = x.shape[n - 1]!,
        idx = x.shape.map((_, d) => ir.global(d));
      const at = (j: ReturnType<typeof ir.int>) => ir.load(0, ir.at(x, [...idx.slice(0, -1), j]));
      const max = ir.reduce('MAX', len, at);
      const sum = ir.reduce('ADD', len, (r) => ir.exp(ir.sub(at(r), max)));
      return ir.div(ir.exp(ir.sub(at(idx[n - 1]!), max)), sum);
    },
  },
});
