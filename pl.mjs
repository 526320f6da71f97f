import { CpuBackend, registerDevice } from './dist/index.js';
import { NullBackend } from './dist/backends/null.js';
import { cudaLanguage } from './dist/codegen/cuda.js';
import { NeuralOS } from './dist/models/neuralos/neuralos.js';
import { fullConfig } from './dist/models/neuralos/config.js';
import { planStages } from './dist/models/neuralos/plan.js';
const cfg = fullConfig;
for (const maxBuffers of [8, 16, 31, 64]) {
  const caps = { ...new CpuBackend().caps, maxBuffers, statusBinding: true, maxBufferBytes: 2 ** 48, globalsAsLoops: false, timer: 'device', workgroupSize: 256, maxGrid: 2 ** 31 - 1, threads: 132 * 2048 };
  const name = `null${maxBuffers}`;
  registerDevice(new NullBackend(name, caps, cudaLanguage, 'CUDA'));
  const m = await NeuralOS.load(cfg, { device: name });
  const t = performance.now();
  for (const p of await planStages(m)) console.log(maxBuffers, p.stage, p.kernels, 'kernels; intermediates', (p.intermediateBytes / 1e9).toFixed(3), 'GB; max', (p.maxIntermediateBytes / 1e6).toFixed(1), 'MB; max input', (p.maxInputBytes / 1e6).toFixed(1), 'MB;', p.violations.length, 'violations');
  console.log('plan ms', (performance.now() - t).toFixed(0));
}
