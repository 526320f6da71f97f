// The KL autoencoder's decoder (LDM `Decoder`): conv_in, a mid block with single-head attention, up levels
// of ResnetBlocks with nearest ×2 upsampling, GroupNorm(eps 1e-6) + swish + conv_out to RGB in [-1, 1].
import type { Tensor } from '../../index.js';
import { Conv1x1, Conv2d, GroupNorm } from '../nn.js';
import type { StateDict } from '../weights/state.js';
import type { NeuralOSConfig } from './config.js';

class ResnetBlock {
  readonly norm1;
  readonly conv1;
  readonly norm2;
  readonly conv2;
  readonly shortcut?: Conv1x1;
  constructor(sd: StateDict, key: string, cin: number, cout: number) {
    this.norm1 = new GroupNorm(sd, `${key}.norm1`, 32, cin, 1e-6);
    this.conv1 = new Conv2d(sd, `${key}.conv1`, cin, cout, 3, { padding: 1 });
    this.norm2 = new GroupNorm(sd, `${key}.norm2`, 32, cout, 1e-6);
    this.conv2 = new Conv2d(sd, `${key}.conv2`, cout, cout, 3, { padding: 1 });
    if (cin !== cout) this.shortcut = new Conv1x1(sd, `${key}.nin_shortcut`, cin, cout, 2);
  }
  forward(x: Tensor): Tensor {
    const h = this.conv2.forward(this.norm2.forward(this.conv1.forward(this.norm1.forward(x).silu())).silu());
    return (this.shortcut ? this.shortcut.forward(x) : x).add(h);
  }
}

class AttnBlock {
  readonly norm;
  readonly q;
  readonly k;
  readonly v;
  readonly proj;
  constructor(
    sd: StateDict,
    key: string,
    readonly c: number,
  ) {
    this.norm = new GroupNorm(sd, `${key}.norm`, 32, c, 1e-6);
    [this.q, this.k, this.v, this.proj] = ['q', 'k', 'v', 'proj_out'].map(
      (n) => new Conv1x1(sd, `${key}.${n}`, c, c, 2),
    ) as [Conv1x1, Conv1x1, Conv1x1, Conv1x1];
  }
  forward(x: Tensor): Tensor {
    const [B, C, H, W] = x.shape as [number, number, number, number];
    const h = this.norm.forward(x);
    const q = this.q
        .forward(h)
        .reshape([B, C, H * W])
        .transpose(1, 2),
      k = this.k.forward(h).reshape([B, C, H * W]);
    const w = q
      .matmul(k)
      .mul(C ** -0.5)
      .softmax(2);
    const v = this.v.forward(h).reshape([B, C, H * W]);
    return x.add(this.proj.forward(v.matmul(w.transpose(1, 2)).reshape([B, C, H, W])));
  }
}

export class Decoder {
  readonly postQuant;
  readonly convIn;
  readonly mid: [ResnetBlock, AttnBlock, ResnetBlock];
  readonly levels: { blocks: ResnetBlock[]; upsample?: Conv2d }[] = [];
  readonly normOut;
  readonly convOut;

  constructor(sd: StateDict, cfg: NeuralOSConfig) {
    const { ch, chMult, numResBlocks } = cfg.ae,
      z = cfg.latentChannels;
    this.postQuant = new Conv1x1(sd, 'post_quant_conv', z, z, 2);
    let c = ch * chMult[chMult.length - 1]!;
    this.convIn = new Conv2d(sd, 'decoder.conv_in', z, c, 3, { padding: 1 });
    this.mid = [
      new ResnetBlock(sd, 'decoder.mid.block_1', c, c),
      new AttnBlock(sd, 'decoder.mid.attn_1', c),
      new ResnetBlock(sd, 'decoder.mid.block_2', c, c),
    ];
    for (let level = chMult.length - 1; level >= 0; level--) {
      const out = ch * chMult[level]!,
        blocks: ResnetBlock[] = [];
      for (let i = 0; i <= numResBlocks; i++) {
        blocks.push(new ResnetBlock(sd, `decoder.up.${level}.block.${i}`, c, out));
        c = out;
      }
      this.levels.push({
        blocks,
        upsample: level ? new Conv2d(sd, `decoder.up.${level}.upsample.conv`, c, c, 3, { padding: 1 }) : undefined,
      });
    }
    this.normOut = new GroupNorm(sd, 'decoder.norm_out', 32, c, 1e-6);
    this.convOut = new Conv2d(sd, 'decoder.conv_out', c, 3, 3, { padding: 1 });
  }

  /** A latent (denormalized) [B, z, h, w] → image [B, 3, 8h, 8w] in about [-1, 1]. */
  forward(z: Tensor): Tensor {
    let h = this.convIn.forward(this.postQuant.forward(z));
    h = this.mid[2].forward(this.mid[1].forward(this.mid[0].forward(h)));
    for (const { blocks, upsample } of this.levels) {
      for (const b of blocks) h = b.forward(h);
      if (upsample) h = upsample.forward(h.interpolate({ scaleFactor: 2 }));
    }
    return this.convOut.forward(this.normOut.forward(h).silu());
  }
}
