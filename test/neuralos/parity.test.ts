// Parity with PyTorch: the tiny NeuralOS built from the fixture weights (PyTorch checkpoint and
// safetensors) matches outputs the reference blocks produced (test/fixtures/make_neuralos_fixtures.py):
// norm-wise relative error ≤ 1e-4 in f32, on every backend, with state carried across three frames.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type Tensor, cat, tensor } from '../../index.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { ddimSample, ddimTimesteps, modelStep } from '../../models/neuralos/ddim.js';
import { NeuralOS, type NeuralOSEvent } from '../../models/neuralos/neuralos.js';
import { AttentionBlock, ResBlock } from '../../models/neuralos/unet.js';
import { SafetensorsFile } from '../../models/weights/safetensors.js';
import { openWeights } from '../../models/weights/open.js';
import { StateDict } from '../../models/weights/state.js';
import { backends } from '../backends.js';

const dir = 'test/fixtures/neuralos';
const present = existsSync(`${dir}/cases.safetensors`);
const cases = present ? new SafetensorsFile(`${dir}/cases.safetensors`) : undefined;
const meta = present
  ? (JSON.parse(readFileSync(`${dir}/meta.json`, 'utf8')) as { events: NeuralOSEvent[]; steps: number })
  : undefined;

const get = (name: string): Float32Array => cases!.read(name);
const shapeOf = (name: string): number[] => cases!.tensors.get(name)!.shape;
const input = (name: string, device: string): Tensor => tensor(get(name), { shape: shapeOf(name), device });

/** max |got - want| / max |want|: the error relative to the tensor's scale. */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0,
    den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i]! - want[i]!));
    den = Math.max(den, Math.abs(want[i]!));
  }
  return num / den;
}
async function expectMatch(t: Tensor, name: string, tol = 1e-4): Promise<void> {
  expect(t.shape, name).toEqual(shapeOf(name).length ? shapeOf(name) : t.shape);
  const err = relErr(await t.data(), get(name));
  expect(err, `${name}: relative error ${err}`).toBeLessThanOrEqual(tol);
}

describe.skipIf(!present)('neuralos parity with PyTorch', () => {
  test('the fixtures were made with this tiny config', () => {
    const c = (
      JSON.parse(readFileSync(`${dir}/meta.json`, 'utf8')) as { config: Record<string, Record<string, unknown>> }
    ).config;
    expect([c.unet!.model_channels, c.unet!.channel_mult, c.unet!.num_res_blocks, c.unet!.num_head_channels]).toEqual([
      tinyConfig.unet.modelChannels,
      tinyConfig.unet.channelMult,
      tinyConfig.unet.numResBlocks,
      tinyConfig.unet.numHeadChannels,
    ]);
    expect([c.ae!.ch, c.ae!.ch_mult, c.ae!.num_res_blocks]).toEqual([
      tinyConfig.ae.ch,
      tinyConfig.ae.chMult,
      tinyConfig.ae.numResBlocks,
    ]);
  });

  describe.each(backends)('on %s', (device) => {
    describe.each(['weights.ckpt', 'weights.safetensors'])('from %s', (file) => {
      let model: NeuralOS;
      test('loads with no missing or mis-shaped keys', async () => {
        model = await NeuralOS.load(tinyConfig, { weights: `${dir}/${file}`, device });
        expect(model.report.problems).toEqual([]);
      }, 60_000);

      test('ResBlock and AttentionBlock', async () => {
        const sd = new StateDict(openWeights(`${dir}/${file}`), device).sub('model.diffusion_model.');
        const res = new ResBlock(sd, 'output_blocks.0.0', 64, 32, 128),
          attn = new AttentionBlock(sd, 'output_blocks.0.1', 32, 2);
        await expectMatch(res.forward(input('resblock.x', device), input('resblock.emb', device)), 'resblock.out');
        await expectMatch(attn.forward(input('attnblock.x', device)), 'attnblock.out');
      }, 60_000);

      test('state model: padding step, then a step carrying state', async () => {
        let state;
        for (const k of [0, 1]) {
          const r = model.rnn.step(state, {
            x: get(`state.x${k}`)[0]!,
            y: get(`state.y${k}`)[0]!,
            left: get(`state.left${k}`)[0]! > 0,
            right: get(`state.right${k}`)[0]! > 0,
            keys: Array.from(get(`state.keys${k}`)),
            prevLatent: input(`state.prev_latent${k}`, device),
            isPadding: k === 0,
          });
          await expectMatch(r.out, `state.out${k}`);
          for (const [n, t] of [
            ['h_lower', r.state.hLower],
            ['c_lower', r.state.cLower],
            ['h_upper', r.state.hUpper],
            ['c_upper', r.state.cUpper],
            ['feedback', r.state.feedback],
          ] as const) {
            await expectMatch(t.reshape(shapeOf(`state.${n}${k}`)), `state.${n}${k}`);
          }
          state = r.state;
        }
      }, 60_000);

      test('one UNet call; DDIM sampling with 4, 16 (17 calls) and 1 steps', async () => {
        await expectMatch(model.unet.forward(input('unet.x', device), get('unet.t')[0]!), 'unet.out');
        const c = input('ddim.c', device),
          unet = modelStep(tinyConfig, (x: Tensor, t: Tensor) => model.unet.forward(cat([x, c], 1), t));
        for (const [name, steps] of [
          ['ddim', meta!.steps],
          ['ddim16', 16],
          ['ddim1', 1],
        ] as const) {
          // the fixture lists timesteps in call order (descending); S = 1 is one call at t = 999
          if (steps > 1) expect(ddimTimesteps(steps).reverse(), name).toEqual(Array.from(get(`${name}.timesteps`)));
          await expectMatch(await ddimSample(tinyConfig, steps, input('ddim.noise', device), unet), `${name}.out`);
        }
      }, 120_000);

      test('autoencoder decoder', async () => {
        const st = tinyConfig.latentStats,
          C = tinyConfig.latentChannels;
        const z = input('decoder.z', device)
          .mul(tensor(st.std, { shape: [1, C, 1, 1], device }))
          .add(tensor(st.mean, { shape: [1, C, 1, 1], device }));
        await expectMatch(model.decoder.forward(z), 'decoder.out');
      }, 120_000);

      test('three whole frames from events, state carried', async () => {
        model.reset();
        for (const [k, ev] of meta!.events.entries()) {
          const f = await model.step(ev, { steps: meta!.steps, noise: get(`frames.noise${k}`) });
          await expectMatch(model.previousLatent!, `frames.latent${k}`);
          const want = get(`frames.image${k}`);
          let off = 0;
          f.image.forEach((v, i) => {
            const d = Math.abs(v - want[i]!);
            expect(d, `frame ${k} pixel ${i}`).toBeLessThanOrEqual(1);
            off += d ? 1 : 0;
          });
          expect(off / want.length, `frame ${k}: share of pixels off by one`).toBeLessThan(0.01);
        }
      }, 180_000);
    });
  });
});
