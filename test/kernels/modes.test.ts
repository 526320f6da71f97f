// POLYGRAD_KERNELS: `generated` leaves every composite op to the generated kernels (and `auto` with nothing measured
// does the same); `custom` uses contributed kernels wherever they apply, and NeuralOS still matches PyTorch with them.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { type Tensor, jit, tensor } from '../../index.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { NeuralOS, type NeuralOSEvent } from '../../models/neuralos/neuralos.js';
import { SafetensorsFile } from '../../models/weights/safetensors.js';
import { kernelKey } from '../../codegen/kernel.js';
import { type KernelMode, kernelMode, setKernelMode, setMeasured } from '../../runtime/composite.js';
import { plan } from '../../runtime/plan.js';
import { kernels } from '../../kernels/index.js';
import { runsOn } from '../../kernels/check.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';
import { backends } from '../backends.js';
import { getDevice } from '../../runtime/device.js';

const initial = kernelMode();
afterEach(() => {
  setKernelMode(initial);
  setMeasured({});
});

describe.each(backends)('kernel modes on %s', (device) => {
  const graphs = (): Tensor[] =>
    cases.map((c) =>
      c.run(...c.inputs.map((s, i) => tensor(Float32Array.from(uniform(s.shape, i).data), { shape: s.shape, device }))),
    );

  test('generated: no contributed kernel anywhere; auto with nothing measured schedules the same kernels', () => {
    setKernelMode('generated');
    const generated = graphs().map((t) => plan(t).map(kernelKey));
    expect(generated.flat().length).toBeGreaterThan(150);
    setKernelMode('auto');
    setMeasured({});
    expect(graphs().map((t) => plan(t).map(kernelKey))).toEqual(generated);
    setKernelMode('custom');
    const custom = graphs().flatMap((t) => plan(t).map((k) => k.name));
    // where a kernel declares this device, custom mode uses contributed kernels somewhere in the suite
    if (
      kernels.some((k) =>
        k.devices.some((d) => ({ cpu: 'js', webgpu: 'wgsl', cuda: 'cuda' })[d] === getDevice(device).language.name),
      )
    ) {
      expect(custom.some((n) => n.startsWith('c_'))).toBe(true);
    }
  });

  const dir = 'test/fixtures/neuralos';
  test.skipIf(!existsSync(`${dir}/cases.safetensors`))(
    'custom and auto: three NeuralOS frames still match PyTorch',
    async () => {
      const fx = new SafetensorsFile(`${dir}/cases.safetensors`),
        meta = JSON.parse(readFileSync(`${dir}/meta.json`, 'utf8')) as { events: NeuralOSEvent[]; steps: number };
      for (const mode of ['custom', 'auto'] as const) {
        setKernelMode(mode);
        // auto goes by measurements: say every kernel was measured faster on this device
        setMeasured({ [getDevice(device).description]: Object.fromEntries(kernels.map((k) => [k.name, 2])) });
        const model = await NeuralOS.load(tinyConfig, { weights: `${dir}/weights.safetensors`, device });
        for (const [k, ev] of meta.events.entries()) {
          const f = await model.step(ev, { steps: meta.steps, noise: fx.read(`frames.noise${k}`) });
          const latent = await model.previousLatent!.data(),
            want = fx.read(`frames.latent${k}`);
          let num = 0,
            den = 0;
          want.forEach((w, i) => {
            num = Math.max(num, Math.abs(latent[i]! - w));
            den = Math.max(den, Math.abs(w));
          });
          expect(num / den, `${mode}, frame ${k}: latent`).toBeLessThanOrEqual(1e-4);
          const img = fx.read(`frames.image${k}`);
          let off = 0;
          f.image.forEach((v, i) => {
            expect(Math.abs(v - img[i]!), `${mode}, frame ${k} pixel ${i}`).toBeLessThanOrEqual(1);
            off += v !== img[i] ? 1 : 0;
          });
          expect(off / img.length).toBeLessThan(0.01);
        }
      }
    },
    240_000,
  );
});

test('a POLYGRAD_KERNELS or setKernelMode that is no mode: an error naming the modes, not a silent auto', async () => {
  expect(() => setKernelMode('fast' as KernelMode)).toThrow('setKernelMode=fast: expected one of auto, generated');
  process.env.POLYGRAD_KERNELS = 'costum';
  vi.resetModules();
  try {
    await expect(import('../../runtime/composite.js')).rejects.toThrow(
      'POLYGRAD_KERNELS=costum: expected one of auto, generated, custom',
    );
  } finally {
    delete process.env.POLYGRAD_KERNELS;
    vi.resetModules();
  }
});

// on the devices a contributed softmax is declared for (cpu and webgpu today)
const softmaxDevices = backends.filter((d) => kernels.some((k) => k.op === 'softmax' && runsOn(k, d)));
describe.each(softmaxDevices)('contributed kernels under jit on %s', (device) => {
  test('custom: a captured softmax replays its contributed kernel, equal to a plain run, on new inputs', async () => {
    setKernelMode('custom');
    const x0 = tensor(Float32Array.from(uniform([6, 1000], 1).data), { shape: [6, 1000], device });
    const names = plan(x0.softmax(-1)).map((k) => k.name);
    expect(
      names.some((n) => n.startsWith('c_softmax_')),
      names.join(),
    ).toBe(true);
    const f = jit((x: Tensor) => x.softmax(-1).mul(2));
    for (let call = 0; call < 4; call++) {
      const x = tensor(Float32Array.from(uniform([6, 1000], 10 + call).data), { shape: [6, 1000], device });
      const got = await f(x),
        want = x.softmax(-1).mul(2);
      expect(Array.from(await got.data())).toEqual(Array.from(await want.data()));
      for (const t of [got, want, x]) t.dispose();
    }
    expect(f.stats.replays).toBe(2);
    f.dispose();
  });
});

test('a corrupt or foreign-version kernels.json is ignored with a warning; a good one is what auto uses', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-kcache-')),
    saved = process.env.POLYGRAD_CACHE,
    warn = console.warn,
    warnings: string[] = [];
  process.env.POLYGRAD_CACHE = dir;
  console.warn = (s: unknown) => warnings.push(String(s));
  const load = async (text: string) => {
    writeFileSync(join(dir, 'kernels.json'), text);
    vi.resetModules();
    return (await import('../../runtime/composite.js')).measurements();
  };
  try {
    expect(await load('{"version": 1, "devices": {"gpu x": {"softmax_rows": 1.5')).toEqual({});
    expect(await load('{"version": 2, "devices": {}}')).toEqual({});
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^polygrad: ignoring the kernel cache .*kernels\.json: /);
    expect(warnings[1]).toContain('not a version 1 kernel cache');
    expect(await load('{"version": 1, "devices": {"gpu x": {"softmax_rows": 1.5}}}')).toEqual({
      'gpu x': { softmax_rows: 1.5 },
    });
    expect(warnings).toHaveLength(2);
  } finally {
    console.warn = warn;
    process.env.POLYGRAD_CACHE = saved;
    vi.resetModules();
  }
});
