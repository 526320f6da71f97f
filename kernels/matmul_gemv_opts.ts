// Pinned optimizer actions for the generated matmul of one row against a weight (the LSTM's and the state model's
// projections at batch 1): 256 lanes of a workgroup share each output's reduce, in place of the heuristic's choice.
// A checked-in tuning result: `polygrad kernels bench` says where it beats the heuristic.
import { defineKernel } from './define.js';

export default defineKernel({
  name: 'matmul_gemv_opts',
  op: 'matmul',
  description: 'generated 1-row matmul (GEMV) with GROUP(256) pinned on its reduce',
  devices: ['webgpu', 'cuda'],
  applies: ({ a, b }, caps) =>
    a.shape.length === 2 &&
    b.shape.length === 2 &&
    a.shape[0] === 1 &&
    a.shape[1]! % 256 === 0 &&
    caps.workgroupSize >= 256,
  cases: [
    {
      name: '1x1024 @ 1024x300',
      inputs: [
        [1, 1024],
        [1024, 300],
      ],
    },
    {
      name: 'bench: 1x4096 @ 4096x4096 (a transposed weight)',
      inputs: [
        [1, 4096],
        [4096, 4096],
      ],
      transposed: [1],
    },
  ],
  // the kernel's iteration space is [1, N]; its reduce over K is range 2
  impl: { kind: 'opts', opts: [{ op: 'GROUP', axis: 2, amount: 256 }] },
});
