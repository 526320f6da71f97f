// The op suite: every case on every backend, against float64 references, on contiguous inputs and on
// permuted, sliced and flipped views of the same values (movement ops must never change results).
import { describe, test } from 'vitest';
import { CpuBackend, WebGpuBackend, registerDevice } from '../../index.js';
import { backends, hasWebGpu } from '../backends.js';
import { type OpCase, cases } from './cases.js';
import { type Layout, check, layouts } from './check.js';
import { numel } from './nd.js';

// Devices whose buffers hold 64 elements and whose kernels bind at most 12: every tensor above 64 elements is stored
// in chunks and every kernel touching one is sharded (codegen/shard.ts), on contiguous and permuted inputs. Cases with
// inputs above 700 elements stay off them: one output of theirs may reduce over more chunks than a kernel can bind (a
// limit at 64-element chunks; real devices hold 32 M elements or more per buffer).
const chunked = ['cpu-chunked', ...(hasWebGpu ? ['webgpu-chunked'] : [])];
registerDevice(new CpuBackend('cpu-chunked', { maxBufferBytes: 256, maxBuffers: 12 }));
if (hasWebGpu)
  registerDevice(
    (await WebGpuBackend.create({ name: 'webgpu-chunked', limits: { maxBufferBytes: 256, maxBuffers: 12 } }))!,
  );
const fitsChunks = (c: OpCase): boolean => c.inputs.every((s) => numel(s.shape) <= 700);

describe.each([...backends, ...chunked])('ops on %s', (device) => {
  for (const c of cases.filter(
    (x) => (!x.ieee || !device.startsWith('webgpu')) && (!chunked.includes(device) || fitsChunks(x)),
  )) {
    const variants = c.inputs.some((s) => s.shape.length > 0)
      ? chunked.includes(device)
        ? layouts.slice(0, 2)
        : layouts
      : (['contiguous'] as Layout[]);
    test.each(variants)(`${c.name} (%s)`, (layout) => check(c, device, layout));
  }
});
