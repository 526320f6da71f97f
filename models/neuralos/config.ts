// NeuralOS configurations: the full model of the paper and a tiny one of the same architecture that runs
// in seconds on the CPU (tests, and the player without a checkpoint). Shapes only; weights come separately.
import { KEYS } from './keys.js';

export interface NeuralOSConfig {
  readonly screen: { readonly width: number; readonly height: number };
  /** Latent channels; the latent grid is the screen / 8 (the autoencoder's factor). */
  readonly latentChannels: number;
  readonly latentStats: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly rnn: {
    readonly hidden: number;
    readonly attnDim: number;
    readonly heads: number;
    readonly outChannels: number;
    readonly keys: number;
  };
  readonly unet: {
    readonly modelChannels: number;
    readonly channelMult: readonly number[];
    readonly numResBlocks: number;
    readonly attentionResolutions: readonly number[];
    readonly numHeadChannels: number;
  };
  readonly ae: { readonly ch: number; readonly chMult: readonly number[]; readonly numResBlocks: number };
  readonly diffusion: { readonly timesteps: number; readonly linearStart: number; readonly linearEnd: number };
}

export const latentSize = (c: NeuralOSConfig): { height: number; width: number } => ({
  height: c.screen.height / 8,
  width: c.screen.width / 8,
});

export const fullConfig: NeuralOSConfig = {
  screen: { width: 512, height: 384 },
  latentChannels: 16,
  // the demo's latent_stats.json at full precision (rounding to 4 decimals moves normalized latents by ~5e-5)
  latentStats: {
    mean: [
      -0.2164665131462117, -0.4839531371942411, 2.1221986957500376, 0.8854872653604795, -0.2535155197364433,
      -0.3078305269872304, -1.097690530998508, -0.25895951181203125, -0.10439479401746454, -0.26942743760125404,
      -0.47554851121882286, -0.22716190673625097, -0.5972191138302286, 0.43620251346603034, -0.3652886950267479,
      -0.7513694897743562,
    ],
    std: [
      2.103374661030446, 1.6555132681585067, 1.1905522701968365, 0.8470520427569649, 0.8110450017427041,
      0.9010381806897866, 1.169065096125602, 1.3544368678892307, 1.5647049336782617, 1.1335862712579396,
      1.014782288713613, 0.8252819207356799, 0.9349108037243972, 1.869565189968981, 0.8325788336464203,
      1.1223023489764563,
    ],
  },
  rnn: { hidden: 4096, attnDim: 1024, heads: 8, outChannels: 32, keys: 179 },
  unet: {
    modelChannels: 192,
    channelMult: [1, 2, 3, 5],
    numResBlocks: 2,
    attentionResolutions: [2, 4, 8],
    numHeadChannels: 32,
  },
  ae: { ch: 128, chMult: [1, 2, 4, 4], numResBlocks: 2 },
  diffusion: { timesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 },
};

export const tinyConfig: NeuralOSConfig = {
  screen: { width: 64, height: 64 },
  latentChannels: 4,
  latentStats: { mean: [0.1, -0.2, 0.3, -0.4], std: [1.1, 0.9, 1.2, 0.8] },
  rnn: { hidden: 64, attnDim: 32, heads: 4, outChannels: 8, keys: 179 },
  // narrow and shallow (2 levels; the final NeuralOS config has 4) so fixtures stay a few MB;
  // 16-channel heads keep the legacy multi-head split exercised
  unet: {
    modelChannels: 32,
    channelMult: [1, 1],
    numResBlocks: 1,
    attentionResolutions: [2, 4, 8],
    numHeadChannels: 16,
  },
  ae: { ch: 32, chMult: [1, 1, 1, 1], numResBlocks: 1 },
  diffusion: { timesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 },
};

/** The most elements one tensor holds (seeded random weights and every index are 32-bit). */
const MAX_ELEMENTS = 2 ** 31 - 1;

/**
 * `value` as a NeuralOSConfig, or a one-line error naming the first field that is missing or wrong (`source`: where
 * the config came from, for the message): sizes are positive integers, the latent stats finite with positive stds,
 * one per latent channel, and the noise schedule inside (0, 1); and the fields fit together as the model code uses
 * them: the screen is a multiple of 8 (the autoencoder) times 2 per UNet downsampling, every GroupNorm's channels
 * divide into its 32 groups, every attention block's channels into heads, the autoencoder has the 4 levels of its
 * factor 8, the key vocabulary is the reference's, and no weight outgrows one tensor.
 */
export function checkConfig(value: unknown, source: string): NeuralOSConfig {
  const show = (got: unknown): string => {
    // JSON would print Infinity and NaN (YAML's .inf, .nan) as null
    const shown = JSON.stringify(got, (_, x: unknown) =>
      typeof x === 'number' && !Number.isFinite(x) ? String(x) : x,
    );
    return typeof got === 'number' ? String(got) : (shown ?? String(got));
  };
  const fail = (path: string, want: string, got: unknown): never => {
    throw new Error(`config ${source}: ${path} must be ${want}, got ${show(got)}`);
  };
  const at = (path: string): unknown =>
    path
      .split('.')
      .reduce<unknown>(
        (v, k) => (typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined),
        value,
      );
  const size = (path: string): number => {
    const v = at(path);
    return Number.isInteger(v) && (v as number) > 0 ? (v as number) : fail(path, 'a positive integer', v);
  };
  const sizes = (path: string): number[] => {
    const v = at(path);
    return Array.isArray(v) && v.length > 0 && v.every((x) => Number.isInteger(x) && x > 0)
      ? (v as number[])
      : fail(path, 'a list of positive integers', v);
  };
  const finite = (path: string, lo: number, hi: number): number => {
    const v = at(path);
    return typeof v === 'number' && v > lo && v < hi ? v : fail(path, `a number in (${lo}, ${hi})`, v);
  };
  const C = size('latentChannels');
  for (const k of ['screen.width', 'screen.height'])
    if (size(k) % 8) fail(k, 'a multiple of 8 (the autoencoder downsamples by 8)', at(k));
  const [W, Hs] = [size('screen.width'), size('screen.height')];
  for (const k of ['mean', 'std']) {
    const v = at(`latentStats.${k}`);
    const ok = Array.isArray(v) && v.length === C && v.every((x) => Number.isFinite(x) && (k === 'mean' || x > 0));
    if (!ok)
      fail(`latentStats.${k}`, `${C} finite numbers${k === 'std' ? ' above 0' : ''} (one per latent channel)`, v);
  }
  for (const k of ['hidden', 'attnDim', 'heads', 'outChannels', 'keys']) size(`rnn.${k}`);
  if (size('rnn.attnDim') % size('rnn.heads'))
    fail('rnn.attnDim', `a multiple of rnn.heads (${at('rnn.heads')})`, at('rnn.attnDim'));
  // every event carries the state of each vocabulary key (the session sends all of them, the embedding has 2 rows each)
  if (size('rnn.keys') !== KEYS.length)
    fail('rnn.keys', `${KEYS.length} (the reference's key vocabulary, models/neuralos/keys.ts)`, at('rnn.keys'));
  for (const k of ['modelChannels', 'numResBlocks', 'numHeadChannels']) size(`unet.${k}`);
  const mult = sizes('unet.channelMult');
  sizes('unet.attentionResolutions');
  size('ae.ch');
  size('ae.numResBlocks');
  sizes('ae.chMult');
  const T = size('diffusion.timesteps');
  // the schedule's betas interpolate linearStart to linearEnd over T - 1 intervals
  if (T < 2) fail('diffusion.timesteps', 'at least 2 (the noise schedule spans timesteps - 1 intervals)', T);
  const lo = finite('diffusion.linearStart', 0, 1);
  if (finite('diffusion.linearEnd', 0, 1) <= lo)
    fail('diffusion.linearEnd', `above diffusion.linearStart (${lo})`, at('diffusion.linearEnd'));

  const cfg = value as NeuralOSConfig,
    { unet, ae, rnn } = cfg;
  // the UNet halves the latent between its levels and doubles it back, concatenating each level's skip: the latent
  // grid must halve exactly, levels - 1 times
  const factor = 8 * 2 ** (mult.length - 1);
  for (const k of ['screen.width', 'screen.height'])
    if ((at(k) as number) % factor)
      fail(
        k,
        `a multiple of ${factor} (8 for the autoencoder × 2^${mult.length - 1} for the ${mult.length} levels of ` +
          'unet.channelMult)',
        at(k),
      );
  // every ResBlock, attention block and the output of both networks starts with a GroupNorm of 32 groups
  if (unet.modelChannels % 32)
    fail('unet.modelChannels', "a multiple of 32 (GroupNorm's 32 groups)", at('unet.modelChannels'));
  if (ae.chMult.length !== 4)
    fail('ae.chMult', '4 levels (the decoder doubles the size between levels: 2^3 = 8, the latent factor)', ae.chMult);
  if (ae.chMult.some((m) => (ae.ch * m) % 32))
    throw new Error(
      `config ${source}: ae.ch × ae.chMult must be multiples of 32 (GroupNorm's 32 groups), got ` +
        `${ae.ch} × ${show(ae.chMult)}`,
    );
  // attention at each level whose downsampling factor is listed, and in the middle block (the last level)
  const attnChannels = [
    ...new Set(
      mult.flatMap((m, level) =>
        unet.attentionResolutions.includes(2 ** level) || level === mult.length - 1 ? [m * unet.modelChannels] : [],
      ),
    ),
  ];
  if (attnChannels.some((c) => c % unet.numHeadChannels))
    fail(
      'unet.numHeadChannels',
      `a divisor of every attention block's channels (${attnChannels.join(', ')}: unet.modelChannels × ` +
        'unet.channelMult)',
      unet.numHeadChannels,
    );
  // the largest weights (and the frame read back) as the model code shapes them: each must be one tensor
  const H = rnn.hidden,
    hw = (W / 8) * (Hs / 8),
    cu = unet.modelChannels * Math.max(...mult),
    ca = ae.ch * Math.max(...ae.chMult);
  const tensors: [string, string, number[]][] = [
    ['screen.width × rnn.hidden', 'temporal_encoder.embedding_x', [W, H]],
    ['screen.height × rnn.hidden', 'temporal_encoder.embedding_y', [Hs, H]],
    ['rnn.hidden', 'temporal_encoder.lstm_lower.weight_ih_l0', [4 * H, 4 * H]],
    ['rnn.attnDim', 'temporal_encoder.multi_head_attention.in_proj_weight', [3 * rnn.attnDim, rnn.attnDim]],
    ['screen × rnn.attnDim', 'temporal_encoder.image_position_embeddings', [hw, rnn.attnDim]],
    ['rnn.outChannels × screen × rnn.hidden', 'temporal_encoder.projection.2.weight', [rnn.outChannels * hw, 4 * H]],
    ['diffusion.timesteps × unet.modelChannels', 'the timestep embedding table', [T, unet.modelChannels]],
    ['unet.modelChannels × unet.channelMult', 'the widest UNet output-block conv', [cu, 2 * cu, 3, 3]],
    ['ae.ch × ae.chMult', 'the widest decoder conv', [ca, ca, 3, 3]],
    ['screen.width × screen.height', 'the decoded frame', [3, Hs, W]],
  ];
  for (const [fields, what, shape] of tensors) {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n > MAX_ELEMENTS)
      throw new Error(
        `config ${source}: ${fields} too large: ${what} would be [${shape.join(', ')}], ${n.toExponential(2)} ` +
          `elements (one tensor holds at most 2^31 - 1)`,
      );
  }
  return value as NeuralOSConfig;
}
