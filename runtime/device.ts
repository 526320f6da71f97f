// The backends polygrad knows, by name, and which one is the default (DEVICE=… or the first registered).
import type { Backend } from '../backends/backend.js';
import { CpuBackend } from '../backends/cpu.js';
import { envFlag, inNode } from './debug.js';

const registry = new Map<string, Backend>([['cpu', new CpuBackend()]]);
let defaultName = envFlag('DEVICE') ?? 'cpu';

export function registerDevice(backend: Backend): void {
  registry.set(backend.name, backend);
}

let probed: Promise<string[]> | undefined;
const cudaModule = '../backends/cuda.js';
/** Why a backend is missing, for messages. */
export const unavailable = new Map<string, string>();
/**
 * Looks for GPU backends once (CUDA through libcuda, WebGPU through Dawn in Node or navigator.gpu) and
 * registers what it finds. The default becomes DEVICE=… if set (an error if missing), else the best found.
 */
export function initDevices(): Promise<string[]> {
  probed ??= (async () => {
    for (const [name, load] of [
      // CUDA only in Node, and through a specifier the browser bundler does not follow (no CUDA chunk in the page)
      [
        'cuda',
        async () =>
          inNode
            ? (
                (await import(/* @vite-ignore */ cudaModule)) as typeof import('../backends/cuda.js')
              ).CudaBackend.create()
            : undefined,
      ],
      ['webgpu', async () => (await import('../backends/webgpu.js')).WebGpuBackend.create()],
    ] as const) {
      try {
        const b = await load();
        if (b) registerDevice(b);
        else unavailable.set(name, 'no adapter');
      } catch (e) {
        unavailable.set(name, (e as Error).message);
      }
    }
    const best = ['cuda', 'webgpu', 'cpu'].find((n) => registry.has(n))!;
    const wanted = envFlag('DEVICE');
    if (wanted && !registry.has(wanted))
      throw new Error(
        `DEVICE=${wanted}: ${unavailable.get(wanted) ?? 'no such device'} (available: ` +
          `${[...registry.keys()].join(', ')})`,
      );
    defaultName = wanted ?? best;
    return [...registry.keys()];
  })();
  return probed;
}

/** The backend named `name`, or an error saying why it is missing: the reason its probe recorded, or no probe yet. */
export function getDevice(name: string = defaultName): Backend {
  const b = registry.get(name);
  if (b) return b;
  const why =
    unavailable.get(name) ??
    (probed === undefined && (name === 'cuda' || name === 'webgpu')
      ? 'GPU backends are registered by `await initDevices()`, not called yet'
      : undefined);
  throw new Error(
    `device '${name}' is not available${why ? `: ${why}` : ''} (available: ${[...registry.keys()].join(', ')})`,
  );
}

export const defaultDevice = (): string => defaultName;
export function setDefaultDevice(name: string): void {
  getDevice(name);
  defaultName = name;
}

/** Every registered backend with its description and capabilities. */
export const devices = (): Backend[] => [...registry.values()];
