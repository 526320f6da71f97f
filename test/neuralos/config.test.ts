// A config is checked against how the model code uses its fields: one line naming the field and what it allows,
// before any weight is made, where each of these used to fail deep inside (a typed array, a reshape, a cat, the
// stack, a timestep variable) or, for the key vocabulary, to run reading embedding rows past the table.
import { describe, expect, test } from 'vitest';
import { configNamed } from '../../app/neuralos.js';
import { type NeuralOSConfig, checkConfig, fullConfig, tinyConfig } from '../../models/neuralos/config.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';

type Mutable = {
  -readonly [K in keyof NeuralOSConfig]: { -readonly [F in keyof NeuralOSConfig[K]]: NeuralOSConfig[K][F] };
};
type Change = (c: Mutable) => void;
/** The tiny config with one change. */
const edit = (change: Change): Mutable => {
  const c = structuredClone(tinyConfig) as Mutable;
  change(c);
  return c;
};
const problem = (change: Change): string => {
  try {
    checkConfig(edit(change), 'f.json');
  } catch (e) {
    return (e as Error).message;
  }
  return 'accepted';
};

describe('checkConfig', () => {
  test('the built-in and shipped configs pass', () => {
    for (const c of [fullConfig, tinyConfig, configNamed('demo')]) expect(checkConfig(c, 'x')).toBe(c);
  });

  test('each field that used to fail deep inside is named with what it allows', () => {
    const cases: [Change, string][] = [
      [
        (c) => {
          c.ae.chMult = [1, 1];
        },
        'ae.chMult must be 4 levels (the decoder doubles the size between levels: 2^3 = 8, the latent factor), ' +
          'got [1,1]',
      ],
      [
        (c) => {
          c.ae.chMult = [1, 1, 1, 1.5];
        },
        'ae.chMult must be a list of positive integers, got [1,1,1,1.5]',
      ],
      [
        (c) => {
          c.ae.ch = 16;
        },
        "ae.ch × ae.chMult must be multiples of 32 (GroupNorm's 32 groups), got 16 × [1,1,1,1]",
      ],
      [
        (c) => {
          c.unet.numHeadChannels = 7;
        },
        "unet.numHeadChannels must be a divisor of every attention block's channels (32: unet.modelChannels × " +
          'unet.channelMult), got 7',
      ],
      [
        (c) => {
          c.unet.modelChannels = 40;
        },
        "unet.modelChannels must be a multiple of 32 (GroupNorm's 32 groups), got 40",
      ],
      [
        (c) => {
          c.rnn.hidden = 2 ** 28;
        },
        'screen.width × rnn.hidden too large: temporal_encoder.embedding_x would be [64, 268435456], 1.72e+10 ' +
          'elements (one tensor holds at most 2^31 - 1)',
      ],
      [
        (c) => {
          c.screen = { width: 8, height: 8 };
        },
        'screen.width must be a multiple of 16 (8 for the autoencoder × 2^1 for the 2 levels of unet.channelMult), ' +
          'got 8',
      ],
      [
        (c) => {
          c.unet.channelMult = [1, 1, 1, 1, 1, 1, 1, 1];
        },
        'screen.width must be a multiple of 1024 (8 for the autoencoder × 2^7 for the 8 levels of ' +
          'unet.channelMult), got 64',
      ],
      [
        (c) => {
          c.screen = { width: 64, height: 40 };
        },
        'screen.height must be a multiple of 16 (8 for the autoencoder × 2^1 for the 2 levels of ' +
          'unet.channelMult), got 40',
      ],
      [
        (c) => {
          c.diffusion.timesteps = 1;
        },
        'diffusion.timesteps must be at least 2 (the noise schedule spans timesteps - 1 intervals), got 1',
      ],
      [
        (c) => {
          c.screen = { width: 8 * 2 ** 20, height: 8 * 2 ** 20 };
        },
        'screen × rnn.attnDim too large: temporal_encoder.image_position_embeddings would be [1099511627776, 32], ' +
          '3.52e+13 elements (one tensor holds at most 2^31 - 1)',
      ],
      [
        (c) => {
          c.rnn.keys = 5;
        },
        "rnn.keys must be 179 (the reference's key vocabulary, models/neuralos/keys.ts), got 5",
      ],
      [
        (c) => {
          c.diffusion.timesteps = 2 ** 27;
        },
        'diffusion.timesteps × unet.modelChannels too large: the timestep embedding table would be [134217728, 32]',
      ],
    ];
    for (const [change, message] of cases) expect(problem(change)).toContain(`config f.json: ${message}`);
  });

  test('a config the rules accept beyond the shipped ones builds and renders a frame', async () => {
    const change: Change = (c) => {
      c.unet.numHeadChannels = 32;
      c.screen = { width: 32, height: 48 };
    };
    expect(problem(change)).toBe('accepted');
    const model = await NeuralOS.load(checkConfig(edit(change), 'x'));
    const f = await model.step({ x: 3, y: 40 }, { steps: 1 });
    expect([f.width, f.height, f.image.length]).toEqual([32, 48, 32 * 48 * 3]);
    model.reset();
  }, 60_000);
});
