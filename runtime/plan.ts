// Scheduling without running: what kernels a set of tensors would launch (for tests and tools).
import type { Kernel } from '../codegen/kernel.js';
import { getDevice } from './device.js';
import { liveBuffer } from './realize.js';
import { Scheduler, graphKey } from './schedule.js';
import type { Tensor } from './tensor.js';

export function plan(...tensors: Tensor[]): Kernel[] {
  const backend = getDevice(tensors[0]!.device);
  const nodes = [...new Set(tensors.map((t) => t.node('plan')))];
  const { leaves, binds } = graphKey(nodes, (u) => liveBuffer(u, backend) !== undefined);
  const sched = new Scheduler(new Map(leaves.map((u, i) => [u, i])), backend.caps, new Map(binds.map((u, i) => [u, i]))).run(nodes);
  return sched.items.map((i) => i.kernel);
}
