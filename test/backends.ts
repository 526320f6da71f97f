// The devices every backend-parameterized suite runs on: cpu always, webgpu when an adapter exists, cuda when a GPU
// and its driver are there. With REQUIRE_WEBGPU=1 (CI) a missing adapter is an error, never a silent skip. With
// CUDA_EMULATOR=1 and no GPU, cuda is the emulator of test/cuda/fake: the CUDA C polygrad renders, compiled by g++
// and run on host threads by a stand-in driver, through the real backend (a check of the CUDA renderer's semantics,
// not of a GPU's). TEST_DEVICES=cuda (or any list) keeps only those devices.
import { CudaBackend } from '../backends/cuda.js';
import { initDevices, registerDevice } from '../index.js';
import { standIn } from './cuda/stand-in.js';

const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};

async function emulatedCuda(): Promise<string[]> {
  const libs = standIn();
  if (typeof libs === 'string') throw new Error(`CUDA_EMULATOR=1 but the stand-in libraries: ${libs}`);
  registerDevice(await CudaBackend.create({ driver: libs.driver, nvrtc: libs.emulator }));
  return ['cuda'];
}

async function find(): Promise<string[]> {
  const found = await initDevices();
  const gpus = found.includes('cuda') ? ['cuda'] : env.CUDA_EMULATOR === '1' ? await emulatedCuda() : [];
  if (found.includes('webgpu')) return ['cpu', 'webgpu', ...gpus];
  const why = 'no WebGPU adapter (install a software Vulkan driver: see README "Testing WebGPU without a GPU")';
  if (env.REQUIRE_WEBGPU === '1') throw new Error(`REQUIRE_WEBGPU=1 but ${why}`);
  console.warn(`webgpu tests skipped: ${why}`);
  return ['cpu', ...gpus];
}

/** TEST_DEVICES=a,b keeps only those of the devices found (CI runs the emulated CUDA suites that way). */
const only = env.TEST_DEVICES?.split(',').filter(Boolean);
export const backends: string[] = (await find()).filter((d) => !only || only.includes(d));
export const hasWebGpu = backends.includes('webgpu');
