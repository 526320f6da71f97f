// Which op made each graph node, so a kernel's name says which ops it fused (r_matmul_add_64x512x256).
import type { UOp } from '../codegen/uop.js';

/** Tensor methods name the node they return, so kernels can say which ops they fused. */
export const opTags = new WeakMap<UOp, string>();
/** Names of composite ops (conv2d, matmul, …), which speak for the primitives inside them. */
export const compositeOps = new Set<string>();

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
