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
  /** The high-level ops fused into this kernel (for profiles). */
  readonly ops?: readonly string[];
  /** Optimizer actions applied when lowering (codegen/opt.ts). */
  readonly opts?: readonly Opt[];
}

/** Each thread computes `amount` consecutive outputs along `axis`, sharing loads that do not depend on it. */
export interface Opt { readonly op: 'UPCAST'; readonly axis: number; readonly amount: number }

/** The global space the device iterates: the output shape with upcast axes divided. */
export function launchShape(k: Kernel): number[] {
  const s = [...k.shape];
  for (const o of k.opts ?? []) s[o.axis] = s[o.axis]! / o.amount;
  return s;
}
