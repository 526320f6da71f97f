// Which op made each graph node, so a kernel's name says which ops it fused (r_matmul_add_64x512x256).
import type { UOp } from '../codegen/uop.js';

/** Tensor methods name the node they return, so kernels can say which ops they fused. */
export const opTags = new WeakMap<UOp, string>();
/**
 * The composite ops Tensor methods name the graphs they build after (Tensor.named): in kernel names and profiles
 * they speak for the primitives inside them. Contributed kernels implement some of them (kernels/define.ts).
 */
export const compositeNames = [
  'attention',
  'batchNorm',
  'cat',
  'conv1d',
  'conv2d',
  'cumsum',
  'embedding',
  'groupNorm',
  'hardsigmoid',
  'hardswish',
  'indexSelect',
  'interpolate',
  'layerNorm',
  'lerp',
  'logSoftmax',
  'logsumexp',
  'maskedFill',
  'matmul',
  'mish',
  'norm',
  'outer',
  'softmax',
  'tril',
  'triu',
] as const;
export type CompositeName = (typeof compositeNames)[number];
export const compositeOps: ReadonlySet<string> = new Set(compositeNames);

/**
 * Tags `u` and the untagged nodes below it (what an op just built) with `op`, stopping at tagged nodes and leaves:
 * every node says which op made it, so a kernel's name does not depend on which other graphs were built first.
 */
export function tagNodes(u: UOp, op: string): void {
  const todo = [u];
  while (todo.length) {
    const n = todo.pop()!;
    if (opTags.has(n) || n.op === 'BUFFER' || n.op === 'CONST') continue;
    opTags.set(n, op);
    todo.push(...n.src);
  }
}
