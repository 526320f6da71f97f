// On a machine with an NVIDIA GPU the CUDA backend runs; elsewhere this says why it skips.
import { describe, expect, test } from 'vitest';
import { initDevices, randn, tensor, unavailable } from '../../index.js';

const names = await initDevices();
const hasCuda = names.includes('cuda');
if (!hasCuda) console.warn(`cuda run tests skipped: ${unavailable.get('cuda') ?? 'not found'}`);

describe.skipIf(!hasCuda)('cuda runs', () => {
  test('a fused kernel agrees with the CPU', async () => {
    const x = randn([64, 32], { seed: 1, device: 'cuda' }),
      w = randn([16, 32], { seed: 2, device: 'cuda' });
    const gpu = await x.linear(w).relu().softmax(-1).data();
    const xc = randn([64, 32], { seed: 1 }),
      wc = randn([16, 32], { seed: 2 });
    const cpu = await xc.linear(wc).relu().softmax(-1).data();
    gpu.forEach((v, i) => expect(v).toBeCloseTo(cpu[i]!, 5));
    expect(Array.from(await tensor([1, 2, 3], { device: 'cuda', dtype: 'i32' }).mul(7).data())).toEqual([7, 14, 21]);
  });
});
