// The LDM/OpenAI UNet as NeuralOS uses it: ResBlocks with a timestep embedding, legacy-split self-attention
// at the listed downsampling factors, skip connections concatenated on the way up. Keys as in the reference.
import { Tensor, cat, tensor, variable } from '../../index.js';
import { Conv1x1, Conv2d, GroupNorm, Linear } from '../nn.js';
import type { StateDict } from '../weights/state.js';
import type { NeuralOSConfig } from './config.js';

export class ResBlock {
  readonly inNorm;
  readonly inConv;
  readonly emb;
  readonly outNorm;
  readonly outConv;
  readonly skip?: Conv1x1;
  constructor(sd: StateDict, key: string, cin: number, cout: number, embDim: number) {
    this.inNorm = new GroupNorm(sd, `${key}.in_layers.0`, 32, cin, 1e-5);
    this.inConv = new Conv2d(sd, `${key}.in_layers.2`, cin, cout, 3, { padding: 1 });
    this.emb = new Linear(sd, `${key}.emb_layers.1`, embDim, cout);
    this.outNorm = new GroupNorm(sd, `${key}.out_layers.0`, 32, cout, 1e-5);
    this.outConv = new Conv2d(sd, `${key}.out_layers.3`, cout, cout, 3, { padding: 1 });
    if (cin !== cout) this.skip = new Conv1x1(sd, `${key}.skip_connection`, cin, cout, 2);
  }
  forward(x: Tensor, emb: Tensor): Tensor {
    let h = this.inConv.forward(this.inNorm.forward(x).silu());
    h = h.add(this.emb.forward(emb.silu()).reshape([x.shape[0]!, -1, 1, 1]));
    h = this.outConv.forward(this.outNorm.forward(h).silu());
    return (this.skip ? this.skip.forward(x) : x).add(h);
  }
}

/** Self-attention over H·W tokens with the legacy head split: per head the channels are [q | k | v]. */
export class AttentionBlock {
  readonly norm;
  readonly qkv;
  readonly proj;
  constructor(
    sd: StateDict,
    key: string,
    readonly channels: number,
    readonly heads: number,
  ) {
    this.norm = new GroupNorm(sd, `${key}.norm`, 32, channels, 1e-5);
    this.qkv = new Conv1x1(sd, `${key}.qkv`, channels, 3 * channels, 1);
    this.proj = new Conv1x1(sd, `${key}.proj_out`, channels, channels, 1);
  }
  forward(x: Tensor): Tensor {
    const [B, C] = x.shape as [number, number],
      T = x.numel / (B * C),
      ch = C / this.heads;
    const xr = x.reshape([B, C, T]);
    const qkv = this.qkv.forward(this.norm.forward(xr)).reshape([B * this.heads, 3 * ch, T]);
    const [q, k, v] = qkv.split(ch, 1) as [Tensor, Tensor, Tensor];
    const scale = 1 / Math.sqrt(Math.sqrt(ch));
    const w = q.mul(scale).transpose(1, 2).matmul(k.mul(scale)).softmax(-1); // [N, T, S]
    const a = v.matmul(w.transpose(1, 2)).reshape([B, C, T]); // [N, ch, T]
    return xr.add(this.proj.forward(a)).reshape(x.shape);
  }
}

/** [cos(t·f), sin(t·f)], f_i = exp(-ln(10000)·i/half), rounded as PyTorch's float32 ops round. */
export function timestepEmbedding(t: number, dim: number): Float32Array {
  const half = dim / 2,
    f = Math.fround,
    out = new Float32Array(dim);
  for (let i = 0; i < half; i++) {
    const freq = f(Math.exp(f(f(f(-Math.log(10000)) * i) / half)));
    const arg = f(f(t) * freq);
    out[i] = Math.cos(arg);
    out[half + i] = Math.sin(arg);
  }
  return out;
}

type Block = (h: Tensor, emb: Tensor) => Tensor;

export class UNet {
  readonly timeEmbed: [Linear, Linear];
  readonly inputBlocks: Block[] = [];
  readonly middle: Block;
  readonly outputBlocks: Block[] = [];
  readonly outNorm;
  readonly outConv;
  readonly modelChannels: number;
  /** The sinusoidal embedding of every timestep, a row per t: a step selects its row by a variable index. */
  readonly timesteps: Tensor;

  constructor(
    sd: StateDict,
    cfg: NeuralOSConfig,
    readonly device: string,
  ) {
    const u = cfg.unet,
      mc = u.modelChannels,
      embDim = 4 * mc,
      T = cfg.diffusion.timesteps;
    this.modelChannels = mc;
    const table = new Float32Array(T * mc);
    for (let t = 0; t < T; t++) table.set(timestepEmbedding(t, mc), t * mc);
    this.timesteps = tensor(table, { shape: [T, mc], device });
    const inCh = cfg.latentChannels + cfg.rnn.outChannels;
    this.timeEmbed = [new Linear(sd, 'time_embed.0', mc, embDim), new Linear(sd, 'time_embed.2', embDim, embDim)];
    const conv0 = new Conv2d(sd, 'input_blocks.0.0', inCh, mc, 3, { padding: 1 });
    this.inputBlocks.push((h) => conv0.forward(h));
    const chans = [mc];
    let ch = mc,
      ds = 1;
    const seq =
      (parts: Block[]): Block =>
      (h, emb) =>
        parts.reduce((x, p) => p(x, emb), h);
    const res = (key: string, cin: number, cout: number): Block => {
      const r = new ResBlock(sd, key, cin, cout, embDim);
      return (h, e) => r.forward(h, e);
    };
    const attn = (key: string, c: number): Block => {
      const a = new AttentionBlock(sd, key, c, c / u.numHeadChannels);
      return (h) => a.forward(h);
    };
    u.channelMult.forEach((mult, level) => {
      for (let i = 0; i < u.numResBlocks; i++) {
        const key = `input_blocks.${this.inputBlocks.length}`;
        const parts = [res(`${key}.0`, ch, mult * mc)];
        ch = mult * mc;
        if (u.attentionResolutions.includes(ds)) parts.push(attn(`${key}.1`, ch));
        this.inputBlocks.push(seq(parts));
        chans.push(ch);
      }
      if (level !== u.channelMult.length - 1) {
        const down = new Conv2d(sd, `input_blocks.${this.inputBlocks.length}.0.op`, ch, ch, 3, {
          stride: 2,
          padding: 1,
        });
        this.inputBlocks.push((h) => down.forward(h));
        chans.push(ch);
        ds *= 2;
      }
    });
    this.middle = seq([res('middle_block.0', ch, ch), attn('middle_block.1', ch), res('middle_block.2', ch, ch)]);
    [...u.channelMult.entries()].reverse().forEach(([level, mult]) => {
      for (let i = 0; i <= u.numResBlocks; i++) {
        const key = `output_blocks.${this.outputBlocks.length}`;
        const parts = [res(`${key}.0`, ch + chans.pop()!, mc * mult)];
        ch = mc * mult;
        if (u.attentionResolutions.includes(ds)) parts.push(attn(`${key}.1`, ch));
        if (level && i === u.numResBlocks) {
          const up = new Conv2d(sd, `${key}.${parts.length}.conv`, ch, ch, 3, { padding: 1 });
          parts.push((h) => up.forward(h.interpolate({ scaleFactor: 2 })));
          ds /= 2;
        }
        this.outputBlocks.push(seq(parts));
      }
    });
    this.outNorm = new GroupNorm(sd, 'out.0', 32, ch, 1e-5);
    this.outConv = new Conv2d(sd, 'out.2', ch, cfg.latentChannels, 3, { padding: 1 });
  }

  /**
   * x [B, latent + rnn channels, h, w] at integer timestep t (a number or an i32 variable) → predicted x0 [B, latent,
   * h, w].
   */
  forward(x: Tensor, t: number | Tensor): Tensor {
    const tv =
      t instanceof Tensor
        ? t
        : variable(t, { dtype: 'i32', min: 0, max: this.timesteps.shape[0]! - 1, name: 't', device: this.device });
    const te = tv.reshape([1]).embedding(this.timesteps);
    const emb = this.timeEmbed[1].forward(this.timeEmbed[0].forward(te).silu());
    const hs: Tensor[] = [];
    let h = x;
    for (const b of this.inputBlocks) {
      h = b(h, emb);
      hs.push(h);
    }
    h = this.middle(h, emb);
    for (const b of this.outputBlocks) h = b(cat([h, hs.pop()!], 1), emb);
    return this.outConv.forward(this.outNorm.forward(h).silu());
  }
}
