// Layers built only from Tensor ops, with PyTorch's parameter names, shapes and semantics.
import type { Tensor } from '../index.js';
import type { StateDict } from './weights/state.js';

const fanScale = (fanIn: number): number => 1 / Math.sqrt(fanIn);

export class Linear {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    sd: StateDict,
    key: string,
    readonly inF: number,
    readonly outF: number,
    bias = true,
  ) {
    this.weight = sd.take(`${key}.weight`, [outF, inF], fanScale(inF));
    if (bias) this.bias = sd.take(`${key}.bias`, [outF], 0.1);
  }
  forward(x: Tensor): Tensor {
    return x.linear(this.weight, this.bias);
  }
}

export class Conv2d {
  readonly weight: Tensor;
  readonly bias?: Tensor;
  constructor(
    sd: StateDict,
    key: string,
    cin: number,
    cout: number,
    k: number,
    readonly opts: { stride?: number; padding?: number } = {},
    bias = true,
  ) {
    this.weight = sd.take(`${key}.weight`, [cout, cin, k, k], fanScale(cin * k * k));
    if (bias) this.bias = sd.take(`${key}.bias`, [cout], 0.1);
  }
  forward(x: Tensor): Tensor {
    return x.conv2d(this.weight, this.bias, this.opts);
  }
}

/** A 1×1 convolution over [B, C, T] (conv1d) or [B, C, H, W] with weight [out, in, 1(, 1)]. */
export class Conv1x1 {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(sd: StateDict, key: string, cin: number, cout: number, dims: 1 | 2) {
    this.weight = sd
      .take(`${key}.weight`, [cout, cin, ...new Array<number>(dims).fill(1)], fanScale(cin))
      .reshape([cout, cin]);
    this.bias = sd.take(`${key}.bias`, [cout], 0.1);
  }
  forward(x: Tensor): Tensor {
    const [B, C] = x.shape as [number, number],
      rest = x.shape.slice(2);
    const y = this.weight.matmul(x.reshape([B, C, -1]));
    return y.add(this.bias.reshape([-1, 1])).reshape([B, this.weight.shape[0]!, ...rest]);
  }
}

export class GroupNorm {
  readonly weight: Tensor;
  readonly bias: Tensor;
  constructor(
    sd: StateDict,
    key: string,
    readonly groups: number,
    channels: number,
    readonly eps: number,
  ) {
    this.weight = sd.take(`${key}.weight`, [channels], 0.1, 1);
    this.bias = sd.take(`${key}.bias`, [channels], 0.1);
  }
  forward(x: Tensor): Tensor {
    return x.groupNorm(this.groups, this.weight, this.bias, this.eps);
  }
}

export class Embedding {
  readonly weight: Tensor;
  constructor(sd: StateDict, key: string, num: number, dim: number) {
    this.weight = sd.take(`${key}.weight`, [num, dim], 0.5);
  }
  forward(indices: Tensor): Tensor {
    return indices.embedding(this.weight);
  }
}

/** One step of torch.nn.LSTM (one layer): gates in the order i, f, g, o; two biases. */
export class LSTMCell {
  readonly wih: Tensor;
  readonly whh: Tensor;
  readonly bih: Tensor;
  readonly bhh: Tensor;
  constructor(
    sd: StateDict,
    key: string,
    input: number,
    readonly hidden: number,
  ) {
    const s = fanScale(hidden);
    this.wih = sd.take(`${key}.weight_ih_l0`, [4 * hidden, input], s);
    this.whh = sd.take(`${key}.weight_hh_l0`, [4 * hidden, hidden], s);
    this.bih = sd.take(`${key}.bias_ih_l0`, [4 * hidden], 0.1);
    this.bhh = sd.take(`${key}.bias_hh_l0`, [4 * hidden], 0.1);
  }
  step(x: Tensor, h: Tensor, c: Tensor): [Tensor, Tensor] {
    const gates = x.linear(this.wih, this.bih).add(h.linear(this.whh, this.bhh));
    const [i, f, g, o] = gates.chunk(4, -1) as [Tensor, Tensor, Tensor, Tensor];
    const c2 = f.sigmoid().mul(c).add(i.sigmoid().mul(g.tanh()));
    return [o.sigmoid().mul(c2.tanh()), c2];
  }
}

/** torch.nn.MultiheadAttention with batch_first inputs [B, L, E] and packed in_proj weights. */
export class MultiheadAttention {
  readonly inW: Tensor;
  readonly inB: Tensor;
  readonly out: Linear;
  constructor(
    sd: StateDict,
    key: string,
    readonly embed: number,
    readonly heads: number,
  ) {
    this.inW = sd.take(`${key}.in_proj_weight`, [3 * embed, embed], fanScale(embed));
    this.inB = sd.take(`${key}.in_proj_bias`, [3 * embed], 0.1);
    this.out = new Linear(sd, `${key}.out_proj`, embed, embed);
  }
  forward(q: Tensor, k: Tensor, v: Tensor): Tensor {
    const E = this.embed,
      H = this.heads,
      d = E / H;
    const [wq, wk, wv] = this.inW.chunk(3, 0) as [Tensor, Tensor, Tensor];
    const [bq, bk, bv] = this.inB.chunk(3, 0) as [Tensor, Tensor, Tensor];
    const heads = (x: Tensor, w: Tensor, b: Tensor) => {
      const [B, L] = x.shape as [number, number];
      return x.linear(w, b).reshape([B, L, H, d]).transpose(1, 2);
    };
    const o = heads(q, wq, bq).scaledDotProductAttention(heads(k, wk, bk), heads(v, wv, bv));
    const [B, , L] = o.shape as [number, number, number];
    return this.out.forward(o.transpose(1, 2).reshape([B, L, E]));
  }
}
