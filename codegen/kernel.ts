// What the scheduler hands to codegen: one fused kernel as store expressions over a global iteration space.
import type { DType } from './dtype.js';
import type { UOp } from './uop.js';

export interface KernelParam { readonly dtype: DType; readonly numel: number; readonly write: boolean }

/**
 * `stores[i]` writes output param i at every point of `shape`; values are scalar UOps over
 * RANGE(global) nodes (ids 0..shape.length-1), RANGE(reduce) nodes inside REDUCEs, PARAMs and LOADs.
 */
export interface Kernel {
  readonly name: string;
  readonly shape: readonly number[];
  readonly params: readonly KernelParam[];
  readonly stores: readonly UOp[];
}
