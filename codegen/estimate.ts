// Static cost of a kernel from its linear program: FLOPs (float ALU ops times their loop trip counts)
// and bytes (every buffer it binds, in the dtype the device stores it in), for DEBUG=2 lines and the stats counters.
import { type DType, isFloat, itemsize } from './dtype.js';
import type { Kernel } from './kernel.js';
import type { Inst } from './linearize.js';
import { isAlu } from './uop.js';

/** What a device stores each dtype in, where not in itself (Caps.storage: WebGPU keeps bf16 in f32). */
type Storage = Partial<Readonly<Record<DType, DType>>>;

/** The bytes of every buffer k binds. */
export const paramBytes = (k: Kernel, storage: Storage): number =>
  k.params.reduce((a, p) => a + p.numel * itemsize(storage[p.dtype] ?? p.dtype), 0);

export function estimate(k: Kernel, insts: readonly Inst[], storage: Storage): { flops: number; bytes: number } {
  let flops = 0,
    mult = 1;
  const stack: number[] = [];
  for (const i of insts) {
    if (i.kind === 'loop') {
      stack.push(mult);
      mult *= i.range.range.extent;
    } else if (i.kind === 'end') mult = stack.pop()!;
    else if (i.kind === 'global') mult *= i.range.range.extent;
    else if (i.kind === 'update' && isFloat(i.reduce.dtype)) flops += mult;
    else if (i.kind === 'value' && isAlu(i.u.op) && i.u.op !== 'CAST' && isFloat(i.u.dtype)) flops += mult;
  }
  return { flops, bytes: paramBytes(k, storage) };
}
