// The devices every backend-parameterized suite runs on: cpu always, webgpu when an adapter exists, cuda when a GPU
// and its driver are there. With REQUIRE_WEBGPU=1 (CI) a missing adapter is an error, never a silent skip.
import { initDevices } from '../index.js';

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

async function find(): Promise<string[]> {
  const found = await initDevices();
  const gpus = found.includes('cuda') ? ['cuda'] : [];
  if (found.includes('webgpu')) return ['cpu', 'webgpu', ...gpus];
  const why = 'no WebGPU adapter (install a software Vulkan driver: see README "Testing WebGPU without a GPU")';
  if (env.REQUIRE_WEBGPU === '1') throw new Error(`REQUIRE_WEBGPU=1 but ${why}`);
  console.warn(`webgpu tests skipped: ${why}`);
  return ['cpu', ...gpus];
}

export const backends: string[] = await find();
export const hasWebGpu = backends.includes('webgpu');
