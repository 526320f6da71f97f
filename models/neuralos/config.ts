// NeuralOS configurations: the full model of the paper and a tiny one of the same architecture that runs
// in seconds on the CPU (tests, and the player without a checkpoint). Shapes only; weights come separately.
export interface NeuralOSConfig {
  readonly screen: { readonly width: number; readonly height: number };
  /** Latent channels; the latent grid is the screen / 8 (the autoencoder's factor). */
  readonly latentChannels: number;
  readonly latentStats: { readonly mean: readonly number[]; readonly std: readonly number[] };
  readonly rnn: { readonly hidden: number; readonly attnDim: number; readonly heads: number; readonly outChannels: number; readonly keys: number };
  readonly unet: {
    readonly modelChannels: number; readonly channelMult: readonly number[]; readonly numResBlocks: number;
    readonly attentionResolutions: readonly number[]; readonly numHeadChannels: number;
  };
  readonly ae: { readonly ch: number; readonly chMult: readonly number[]; readonly numResBlocks: number };
  readonly diffusion: { readonly timesteps: number; readonly linearStart: number; readonly linearEnd: number };
}

export const latentSize = (c: NeuralOSConfig): { height: number; width: number } => ({ height: c.screen.height / 8, width: c.screen.width / 8 });

export const fullConfig: NeuralOSConfig = {
  screen: { width: 512, height: 384 },
  latentChannels: 16,
  latentStats: {
    mean: [-0.2165, -0.484, 2.1222, 0.8855, -0.2535, -0.3078, -1.0977, -0.259, -0.1044, -0.2694, -0.4755, -0.2272, -0.5972, 0.4362, -0.3653, -0.7514],
    std: [2.1034, 1.6555, 1.1906, 0.8471, 0.811, 0.901, 1.1691, 1.3544, 1.5647, 1.1336, 1.0148, 0.8253, 0.9349, 1.8696, 0.8326, 1.1223],
  },
  rnn: { hidden: 4096, attnDim: 1024, heads: 8, outChannels: 32, keys: 179 },
  unet: { modelChannels: 192, channelMult: [1, 2, 3, 5], numResBlocks: 2, attentionResolutions: [2, 4, 8], numHeadChannels: 32 },
  ae: { ch: 128, chMult: [1, 2, 4, 4], numResBlocks: 2 },
  diffusion: { timesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 },
};

export const tinyConfig: NeuralOSConfig = {
  screen: { width: 64, height: 64 },
  latentChannels: 4,
  latentStats: { mean: [0.1, -0.2, 0.3, -0.4], std: [1.1, 0.9, 1.2, 0.8] },
  rnn: { hidden: 64, attnDim: 32, heads: 4, outChannels: 8, keys: 179 },
  // narrow and shallow (the final NeuralOS config also has a 2-level UNet) so fixtures stay a few MB;
  // 16-channel heads keep the legacy multi-head split exercised
  unet: { modelChannels: 32, channelMult: [1, 1], numResBlocks: 1, attentionResolutions: [2, 4, 8], numHeadChannels: 16 },
  ae: { ch: 32, chMult: [1, 1, 1, 1], numResBlocks: 1 },
  diffusion: { timesteps: 1000, linearStart: 0.0015, linearEnd: 0.0195 },
};
