// The backends polygrad knows, by name, and which one is the default (DEVICE=… or the first registered).
import type { Backend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu.js';
import { envFlag } from './debug.js';

const registry = new Map<string, Backend>([['cpu', new CpuBackend()]]);
let defaultName = envFlag('DEVICE') ?? 'cpu';

export function registerDevice(backend: Backend): void { registry.set(backend.name, backend); }

let probed: Promise<string[]> | undefined;
/**
 * Looks for GPU backends once (WebGPU: Dawn in Node, navigator.gpu in browsers) and registers what it
 * finds. The default device becomes DEVICE=… if set, else the best found. Returns the device names.
 */
export function initDevices(): Promise<string[]> {
  probed ??= (async () => {
    try {
      const { WebGpuBackend } = await import('../backends/webgpu.js');
      const gpu = await WebGpuBackend.create();
      if (gpu) registerDevice(gpu);
    } catch (e) {
      if (envFlag('DEBUG')) console.warn(`webgpu unavailable: ${(e as Error).message}`);
    }
    if (!envFlag('DEVICE') && registry.has('webgpu')) defaultName = 'webgpu';
    return [...registry.keys()];
  })();
  return probed;
}

export function getDevice(name: string = defaultName): Backend {
  const b = registry.get(name);
  if (!b) throw new Error(`device '${name}' is not available (available: ${[...registry.keys()].join(', ')})`);
  return b;
}

export const defaultDevice = (): string => defaultName;
export function setDefaultDevice(name: string): void { getDevice(name); defaultName = name; }

/** Every registered backend with its description and capabilities. */
export const devices = (): Backend[] => [...registry.values()];
