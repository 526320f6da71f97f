// Scheduling without running: what kernels a set of tensors would launch and what buffers they would write
// (for tests and tools such as `polygrad plan`).
import type { Kernel } from '../codegen/kernel.js';
import { rowElems } from '../codegen/shard.js';
import { getDevice } from './device.js';
import { scheduleOn } from './realize.js';
import type { Schedule } from './schedule.js';
import type { Tensor } from './tensor.js';

/** The schedule of the tensors on their device, with the realized buffers (leaves) its inputs refer to. */
export function schedule(
  ...tensors: Tensor[]
): Schedule & { readonly leaves: readonly { numel: number; dtype: string; row: number }[] } {
  const backend = getDevice(tensors[0]!.device);
  const nodes = [...new Set(tensors.map((t) => t.node('plan')))];
  const { sched, g } = scheduleOn(backend, nodes);
  return { ...sched, leaves: g.leaves.map((u) => ({ numel: u.numel, dtype: u.dtype, row: rowElems(u.shape) })) };
}

export const plan = (...tensors: Tensor[]): Kernel[] => schedule(...tensors).items.map((i) => i.kernel);
