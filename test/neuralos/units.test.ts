// NeuralOS pieces checked against their definitions, and weight files that are wrong in every way.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { tinyConfig } from '../../models/neuralos/config.js';
import { alphasCumprod, ddimTimesteps } from '../../models/neuralos/ddim.js';
import { keyIndex, KEYS } from '../../models/neuralos/keys.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';
import { timestepEmbedding } from '../../models/neuralos/unet.js';
import { SafetensorsFile, writeSafetensors } from '../../models/weights/safetensors.js';
import { TorchCheckpoint } from '../../models/weights/torch.js';
import { live } from '../live.js';

const dir = mkdtempSync(join(tmpdir(), 'polygrad-nos-'));

describe('neuralos pieces', () => {
  test('DDIM uniform timesteps: 32 steps are 33 UNet calls', () => {
    const t32 = ddimTimesteps(32);
    expect(t32).toHaveLength(33);
    expect([t32[0], t32[1], t32.at(-1)]).toEqual([1, 32, 993]);
    expect(ddimTimesteps(16)).toHaveLength(17);
    expect(ddimTimesteps(8)).toEqual([1, 126, 251, 376, 501, 626, 751, 876]);
  });

  test('alphas_cumprod follows the linear-in-sqrt schedule', () => {
    const a = alphasCumprod(tinyConfig);
    expect(a[0]).toBeCloseTo(1 - 0.0015, 7);
    let acc = 1;
    for (let i = 0; i < 1000; i++) {
      const b = (Math.sqrt(0.0015) + ((Math.sqrt(0.0195) - Math.sqrt(0.0015)) * i) / 999) ** 2;
      acc *= 1 - b;
    }
    expect(a[999]! / acc).toBeCloseTo(1, 5);
  });

  test("a checkpoint's stored alphas_cumprod must be the config's schedule", async () => {
    const weights = 'test/fixtures/neuralos/weights.safetensors';
    const file = new SafetensorsFile(weights);
    expect(file.read('alphas_cumprod')).toHaveLength(1000);
    file.close();
    await NeuralOS.load(tinyConfig, { weights }); // the fixture's own agrees
    const other = { ...tinyConfig, diffusion: { ...tinyConfig.diffusion, linearEnd: 0.012 } };
    await expect(NeuralOS.load(other, { weights })).rejects.toThrow(
      /^neuralos: the checkpoint's alphas_cumprod \(1000 steps\) differs from the config's schedule at t=1 /,
    );
  });

  test('timestep embedding puts cos first', () => {
    const e = timestepEmbedding(500, 8);
    for (let i = 0; i < 4; i++) {
      const f = Math.exp((-Math.log(10000) * i) / 4);
      expect(e[i]).toBeCloseTo(Math.cos(500 * f), 3);
      expect(e[4 + i]).toBeCloseTo(Math.sin(500 * f), 3);
    }
  });

  test('browser key names map onto the 179-key vocabulary', () => {
    expect(KEYS).toHaveLength(179);
    expect(keyIndex('ArrowUp')).toBe(KEYS.indexOf('up'));
    expect(keyIndex('Meta')).toBe(KEYS.indexOf('command'));
    expect(keyIndex('Control')).toBe(KEYS.indexOf('ctrl'));
    expect(keyIndex('a')).toBe(KEYS.indexOf('a'));
    expect(keyIndex('F13')).toBeUndefined();
  });

  test('safetensors round trip in f32 and f16', () => {
    const a = Float32Array.from({ length: 12 }, (_, i) => Math.sin(i) * 3),
      b = Float32Array.from([1, -2.5, 65504]);
    for (const dtype of ['F32', 'F16'] as const) {
      const p = join(dir, `rt-${dtype}.safetensors`);
      writeSafetensors(
        p,
        [
          { name: 'a', shape: [3, 4], data: () => a },
          { name: 'b', shape: [3], data: () => b },
        ],
        dtype,
      );
      const f = new SafetensorsFile(p);
      expect(f.tensors.get('a')!.shape).toEqual([3, 4]);
      const ra = f.read('a');
      ra.forEach((v, i) =>
        expect(Math.abs(v - a[i]!)).toBeLessThanOrEqual(dtype === 'F32' ? 0 : 2e-3 * Math.abs(a[i]!)),
      );
      expect(Array.from(f.read('b'))).toEqual([1, -2.5, 65504]);
      f.close();
    }
  });

  test('bad weight files give clear errors', async () => {
    const junk = join(dir, 'junk.bin');
    writeFileSync(junk, 'this is not a checkpoint at all');
    expect(() => new SafetensorsFile(junk)).toThrow(/bad header length|not JSON/);
    expect(() => new TorchCheckpoint(junk)).toThrow(/not a zip archive/);
    const good = join(dir, 'w.safetensors');
    writeSafetensors(good, [{ name: 'x', shape: [4, 4], data: () => new Float32Array(16) }]);
    const bytes = readFileSync(good);
    const cut = join(dir, 'cut.safetensors');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 8));
    expect(() => new SafetensorsFile(cut)).toThrow(/runs past the end of the file \(truncated\?\)/);
    await expect(NeuralOS.load(tinyConfig, { weights: good })).rejects.toThrow(
      new RegExp(
        '^checkpoint does not fit the model config: \\d+ problems \\(missing temporal_encoder\\.[^\\n]*; ' +
          'pass the --config the checkpoint was trained with$',
      ),
    );
    const wrong = join(dir, 'wrong.safetensors');
    writeSafetensors(wrong, [
      { name: 'temporal_encoder.log_sigma', shape: [1], data: () => new Float32Array(1) },
      { name: 'temporal_encoder.embedding_x.weight', shape: [3, 3], data: () => new Float32Array(9) },
    ]);
    await expect(NeuralOS.load(tinyConfig, { weights: wrong })).rejects.toThrow(
      /mis-shaped temporal_encoder\.embedding_x\.weight: checkpoint \[3,3\], model expects \[64,64\]/,
    );
  });

  test('frames leak no device memory and steps are validated', async () => {
    const m = await NeuralOS.load(tinyConfig);
    // the first frames capture the jitted stages (their planned buffers stay); from then on memory is flat
    for (const x of [5, 6, 7]) await m.step({ x, y: 5 }, { steps: 2 });
    const before = live();
    for (const ev of [
      { x: 20, y: 30, keys_down: ['a'] },
      { x: 40, y: 2, is_left_click: true, keys_up: ['a'] },
      { x: 63, y: 63 },
    ]) {
      const f = await m.step(ev, { steps: 2 });
      expect(f.image).toHaveLength(64 * 64 * 3);
      expect(live()).toEqual(before);
    }
    await expect(m.step({ x: 1, y: 1 }, { steps: 0 })).rejects.toThrow(
      'neuralos: steps must be an integer in [1, 999], got 0',
    );
    // c = 1000 // 3 = 333 puts the last uniform timestep at 1000: the reference fails with an index error
    await expect(m.step({ x: 1, y: 1 }, { steps: 3 })).rejects.toThrow(
      'neuralos: 3 steps put the last DDIM timestep at 1000, past the 1000-step schedule',
    );
  }, 120_000);
});

describe('weight conversion', () => {
  test('polygrad convert: a PyTorch checkpoint to safetensors holds the same values', async () => {
    const { convert } = await import('../../app/neuralos.js');
    const out = join(dir, 'converted.safetensors');
    convert('test/fixtures/neuralos/weights.ckpt', out, false);
    const a = new SafetensorsFile(out),
      b = new SafetensorsFile('test/fixtures/neuralos/weights.safetensors');
    expect([...a.tensors.keys()].sort()).toEqual([...b.tensors.keys()].sort());
    for (const name of [
      'temporal_encoder.lstm_lower.weight_ih_l0',
      'model.diffusion_model.out.2.weight',
      'first_stage_model.decoder.conv_out.bias',
      'temporal_encoder.log_sigma',
    ]) {
      expect(Array.from(a.read(name)), name).toEqual(Array.from(b.read(name)));
      expect(a.tensors.get(name)!.shape).toEqual(b.tensors.get(name)!.shape);
    }
    a.close();
    b.close();
  });

  test('a truncated PyTorch checkpoint is a clear error', () => {
    const bytes = readFileSync('test/fixtures/neuralos/weights.ckpt');
    const cut = join(dir, 'cut.ckpt');
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    expect(() => new TorchCheckpoint(cut)).toThrow(/not a zip archive|truncated/);
  });
});

describe('polygrad neuralos (reference-compatible CLI)', () => {
  test('--noise and --dump reproduce the PyTorch frames value for value', async () => {
    const { runNeuralOS } = await import('../../app/neuralos.js');
    const cases = new SafetensorsFile('test/fixtures/neuralos/cases.safetensors');
    const meta = JSON.parse(readFileSync('test/fixtures/neuralos/meta.json', 'utf8')) as {
      events: unknown[];
      steps: number;
    };
    const noise = Float32Array.from([0, 1, 2].flatMap((k) => Array.from(cases.read(`frames.noise${k}`))));
    const events = join(dir, 'events.json'),
      noiseFile = join(dir, 'noise.f32'),
      frames = join(dir, 'frames'),
      dump = join(dir, 'dump'),
      cfg = join(dir, 'tiny.json');
    writeFileSync(events, JSON.stringify(meta.events));
    writeFileSync(noiseFile, new Uint8Array(noise.buffer));
    writeFileSync(cfg, JSON.stringify(tinyConfig));
    await runNeuralOS(
      {
        events,
        noise: noiseFile,
        frames,
        dump,
        steps: String(meta.steps),
        checkpoint: 'test/fixtures/neuralos/weights.safetensors',
        config: cfg,
      },
      'cpu',
    );
    for (const k of [0, 1, 2]) {
      const raw = readFileSync(join(dump, `frame_000${k}.latent.f32`)),
        got = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
      const want = cases.read(`frames.latent${k}`);
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-4 * scale));
      expect(
        readFileSync(join(frames, `frame_000${k}.png`))
          .subarray(1, 4)
          .toString(),
      ).toBe('PNG');
    }
    cases.close();
  }, 120_000);
});
