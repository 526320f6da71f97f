// The full NeuralOS on devices it cannot fit whole: plans on simulated devices (the null device takes their limits
// and runs nothing), the chunked streaming load of full-size weights, and a reduced-width copy of the full model run
// on the CPU with tiny buffers against the same model run unchunked.
import { describe, expect, test } from 'vitest';
import { planCommand } from '../../app/plan.js';
import { CpuBackend, cat, registerDevice } from '../../index.js';
import { type NeuralOSConfig, fullConfig } from '../../models/neuralos/config.js';
import { timestepVar } from '../../models/neuralos/ddim.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';
import { limitPresets, planDevice, planNeuralOS, planStages } from '../../models/neuralos/plan.js';
import type { TensorSource } from '../../models/weights/state.js';

describe('the full config planned on simulated devices', () => {
  test('binding caps of 8, 16 and 31 write no intermediate larger than an uncapped device does', async () => {
    const byCap = new Map<number, Awaited<ReturnType<typeof planStages>>>();
    for (const maxBuffers of [64, 31, 16, 8]) {
      const device = planDevice(
        { target: 'cuda', maxBuffers, maxBufferBytes: 2 ** 48, workgroupSize: 256, threads: 2 ** 18 },
        `${maxBuffers} bindings`,
      );
      const model = await NeuralOS.load(fullConfig, { device: device.name });
      byCap.set(maxBuffers, await planStages(model, device.caps));
    }
    const free = byCap.get(64)!;
    for (const [cap, stages] of byCap) {
      stages.forEach((s, i) => {
        expect(s.violations, `${s.stage} at ${cap}`).toEqual([]);
        expect(s.maxIntermediateBytes, `${s.stage} at ${cap}: largest intermediate`).toBeLessThanOrEqual(
          free[i]!.maxIntermediateBytes,
        );
        // cuts add small intermediates, never broadcast products (those wrote 24.7 GB per UNet call at 16 bindings)
        expect(s.intermediateBytes, `${s.stage} at ${cap}: bytes written`).toBeLessThanOrEqual(
          2.5 * free[i]!.intermediateBytes,
        );
      });
    }
  }, 240_000);

  test("in f16 the full model runs a frame within 8 GB on WebGPU's default limits, lavapipe's and CUDA's", async () => {
    for (const name of ['webgpu-default', 'lavapipe', 'cuda']) {
      const plan = await planNeuralOS(fullConfig, {
        limits: limitPresets[name]!,
        like: name,
        dtype: 'f16',
        frames: name === 'webgpu-default',
      });
      expect(plan.violations, name).toEqual([]);
      expect(plan.weightBytes, name).toBeGreaterThan(5e9);
      if (name === 'webgpu-default') {
        expect(plan.peakBytes).toBeLessThanOrEqual(8e9);
        expect(plan.launchesPerFrame['32']).toBeGreaterThan(plan.launchesPerFrame['8']);
      }
      // the state model's projection weight (1.6 G elements) alone is past every limit here: its kernel is sharded
      if (name !== 'cuda') expect(plan.stages[0]!.launches, name).toBeGreaterThan(plan.stages[0]!.kernels);
    }
  }, 240_000);

  test('limits that are neither a preset nor a file: one line naming the presets, before any planning', async () => {
    await expect(planCommand({ limits: 'cpu' })).rejects.toThrow(
      /^--limits cpu: neither a preset \(webgpu-default, lavapipe, cuda\) nor a JSON file$/, // the CLI adds its name
    );
  });
});

test('full-size weights stream into chunks by range: every element read once, no weight whole in host ' +
  'memory', async () => {
  // the keys and shapes a full-config checkpoint holds, as the model asks for them
  const probe = planDevice(limitPresets.cuda!, 'cuda');
  const shapes = (await NeuralOS.load(fullConfig, { device: probe.name })).report.expected;
  const reads = new Map<string, number>();
  const source: TensorSource = {
    names: [...shapes.keys()],
    shape: (n) => shapes.get(n)!,
    read: (n) => {
      throw new Error(`${n} was read whole; weights stream by range`);
    },
    readRange: (n, start, count) => {
      reads.set(n, (reads.get(n) ?? 0) + count);
      return new Float32Array(count).fill((start % 7) * 0.01); // made on the fly
    },
  };
  const device = planDevice(limitPresets['webgpu-default']!, 'webgpu-default');
  const model = await NeuralOS.load(fullConfig, { device: device.name, weights: source });
  expect(model.report.problems).toEqual([]);
  const total = [...shapes.values()].reduce((a, s) => a + s.reduce((x, y) => x * y, 1), 0);
  expect(total).toBeGreaterThan(2.5e9);
  expect([...reads.values()].reduce((a, b) => a + b, 0)).toBe(total);
  expect(reads.get('temporal_encoder.projection.2.weight')).toBe(98304 * 16384);
  expect(device.live).toBeGreaterThan(10e9); // in 128 MiB chunks on the device
}, 240_000);

test('a reduced-width full model with tiny buffers: the state step and a UNet call equal the unchunked ' +
  'run', async () => {
  const cfg: NeuralOSConfig = {
    ...fullConfig,
    screen: { width: 64, height: 48 },
    rnn: { ...fullConfig.rnn, hidden: 128, attnDim: 64, heads: 2 },
    unet: { ...fullConfig.unet, modelChannels: 32, channelMult: [1, 2], numResBlocks: 1, attentionResolutions: [2] },
    ae: { ch: 32, chMult: [1, 1, 1, 1], numResBlocks: 1 },
  };
  registerDevice(new CpuBackend('cpu-64k', { maxBufferBytes: 65536, maxBuffers: 12 }));
  const run = async (device: string) => {
    const model = await NeuralOS.load(cfg, { device });
    const ev = model.rnn.inputs({
      x: 30,
      y: 20,
      left: true,
      right: false,
      keys: new Array(cfg.rnn.keys).fill(0).map((_, i) => +(i % 7 === 0)),
    });
    const { out, state } = model.rnn.step(model.rnn.initial.padding, {
      ...ev,
      prevLatent: model.paddingLatent,
      isPadding: false,
    });
    const x0 = model.unet.forward(cat([model.paddingLatent.mul(0.5), out], 1), timestepVar(cfg, 500, device));
    return Promise.all([out, state.hUpper, state.cLower, x0].map(async (t) => Float32Array.from(await t.data())));
  };
  const plain = await run('cpu'),
    chunked = await run('cpu-64k');
  // the projection weight is 1536 × 512: 48 chunks of 16 K elements on the small device
  chunked.forEach((c, i) => {
    let worst = 0;
    c.forEach((v, j) => {
      worst = Math.max(worst, Math.abs(v - plain[i]![j]!) / (1 + Math.abs(plain[i]![j]!)));
    });
    expect(worst, `output ${i}`).toBeLessThan(1e-5);
  });
}, 240_000);

test('a schedule shorter than 500 steps plans: the UNet stage takes a timestep inside it', async () => {
  const { tinyConfig } = await import('../../models/neuralos/config.js');
  const cfg: NeuralOSConfig = { ...tinyConfig, diffusion: { ...tinyConfig.diffusion, timesteps: 100 } };
  const device = planDevice({ target: 'cuda', maxBuffers: 64, maxBufferBytes: 2 ** 30 }, 'short schedule');
  const stages = await planStages(await NeuralOS.load(cfg, { device: device.name }), device.caps);
  expect(stages.map((s) => s.violations)).toEqual([[], [], []]);
});
