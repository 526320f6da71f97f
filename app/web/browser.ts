// Browser mode: the runtime runs NeuralOS in the page on navigator.gpu (WebGPU), or the JS backend if
// the browser has no adapter; the page talks to it exactly as it talks to the server.
import { devices, initDevices, stats } from '../../index.js';
import type { NeuralOSConfig } from '../../models/neuralos/config.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';
import { PlayerSession } from '../session.js';
import { fetchWeights } from './weights.js';

export interface InPage {
  send(raw: string): void;
}

export async function startInPage(
  onJson: (obj: Record<string, unknown>) => void,
  onFrame: (bytes: Uint8Array) => void,
  onProgress: (what: string, done: number, total: number) => void,
): Promise<InPage> {
  type Info = { config: NeuralOSConfig; steps: number; randomWeights: boolean; simulator: boolean; weights?: string };
  const info = (await (await fetch('/info')).json()) as Info & Record<string, unknown>;
  const found = await initDevices();
  const device = found.includes('webgpu') ? 'webgpu' : 'cpu';
  if (!info.randomWeights && !info.weights)
    throw new Error('browser mode needs a safetensors checkpoint on the server (polygrad convert IN OUT.safetensors)');
  const weights = info.weights ? await fetchWeights(info.weights, (d, t) => onProgress('weights', d, t)) : undefined;
  onProgress('compile', 0, 0);
  const model = await NeuralOS.load(info.config, { device, weights });
  const backend = devices().find((d) => d.name === device)!;
  // one warm-up frame compiles every kernel before the first input, with the count on the page as it goes
  const warm = model.session(),
    c0 = stats.compiles;
  const tick = setInterval(() => onProgress('compile', stats.compiles - c0, 0), 200);
  try {
    await warm.step({ x: 0, y: 0 }, { steps: info.steps });
  } finally {
    clearInterval(tick);
    warm.reset();
  }
  const player = new PlayerSession(
    model,
    { json: onJson, frame: onFrame, open: () => true },
    info.steps,
    { ...info, backend: device, adapter: backend.description, mode: 'browser', kernels: stats.compiles - c0 },
    undefined,
    info.simulator,
  );
  onProgress('compile', stats.compiles - c0, stats.compiles - c0);
  return { send: (raw) => player.receive(raw) };
}
