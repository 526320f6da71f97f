// What a user is told about a device that is not there: before initDevices() has looked for GPUs, that it has not
// (a script that skips it gets the CPU only); after, the reason the probe recorded (as DEVICE=… and --device say).
import { expect, test } from 'vitest';
import { devices, getDevice, initDevices, unavailable } from '../../index.js';

test('getDevice names why a device is missing', async () => {
  expect(() => getDevice('cuda')).toThrow(
    "device 'cuda' is not available: GPU backends are registered by `await initDevices()`, not called yet " +
      '(available: cpu)',
  );
  expect(() => getDevice('tpu')).toThrow("device 'tpu' is not available (available: cpu)");
  await initDevices();
  const names = devices().map((d) => d.name);
  for (const name of ['cuda', 'webgpu'].filter((n) => !names.includes(n)))
    expect(() => getDevice(name)).toThrow(
      `device '${name}' is not available: ${unavailable.get(name)} (available: ${names.join(', ')})`,
    );
  expect(() => getDevice('tpu')).toThrow(`device 'tpu' is not available (available: ${names.join(', ')})`);
});
