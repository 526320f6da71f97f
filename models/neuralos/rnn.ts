// The state model ("TemporalEncoder"): a lower LSTM over the input embeddings and feedback, one query
// attending over the previous latent's tokens, an upper LSTM, and a projection to the UNet's conditioning
// channels, whose last channel is replaced by a Gaussian map of the cursor.
import { Tensor, arange, cat, tensor, variable } from '../../index.js';
import { Embedding, LSTMCell, Linear, MultiheadAttention } from '../nn.js';
import type { StateDict } from '../weights/state.js';
import { type NeuralOSConfig, latentSize } from './config.js';

export interface RnnState {
  readonly hLower: Tensor;
  readonly cLower: Tensor;
  readonly hUpper: Tensor;
  readonly cUpper: Tensor;
  readonly feedback: Tensor;
}
/** An event in numbers: the cursor in pixels, the buttons, 0/1 per vocabulary key (held down). */
export interface RnnEvent {
  readonly x: number;
  readonly y: number;
  readonly left: boolean;
  readonly right: boolean;
  readonly keys: readonly number[];
}
/**
 * The same as a step reads it: the cursor and buttons as i32 variables, the keys as the [keys] i32 tensor of their
 * embedding rows (2i + down), so a jitted step takes new values without new kernels (StateModel.inputs makes it).
 */
export interface RnnVars {
  readonly x: Tensor;
  readonly y: Tensor;
  readonly left: Tensor;
  readonly right: Tensor;
  readonly keys: Tensor;
}
export type RnnInput = (RnnEvent | RnnVars) & { readonly prevLatent: Tensor; readonly isPadding: boolean };

export class StateModel {
  readonly embX;
  readonly embY;
  readonly embLeft;
  readonly embRight;
  readonly embKeys;
  readonly lower;
  readonly upper;
  readonly imageProj;
  readonly posEmb: Tensor;
  readonly pre;
  readonly mha;
  readonly post;
  readonly proj0;
  readonly proj2;
  readonly logSigma: Tensor;
  readonly initial: Record<'padding' | 'unknown', RnnState>;

  constructor(
    sd: StateDict,
    readonly cfg: NeuralOSConfig,
    readonly device: string,
  ) {
    const { hidden: H, attnDim: D, heads, outChannels, keys } = cfg.rnn,
      { height: h, width: w } = latentSize(cfg);
    this.embX = new Embedding(sd, 'embedding_x', w * 8, H);
    this.embY = new Embedding(sd, 'embedding_y', h * 8, H);
    this.embLeft = new Embedding(sd, 'embedding_is_leftclick', 2, H);
    this.embRight = new Embedding(sd, 'embedding_is_rightclick', 2, H);
    this.embKeys = new Embedding(sd, 'embedding_key_events', 2 * keys, H);
    this.lower = new LSTMCell(sd, 'lstm_lower', 4 * H, H);
    this.upper = new LSTMCell(sd, 'lstm_upper', H, H);
    this.imageProj = new Linear(sd, 'image_feature_projection', cfg.latentChannels, D);
    this.posEmb = sd.take('image_position_embeddings', [1, h * w, D], 0.3);
    this.pre = new Linear(sd, 'lstm_projection_pre', H, D);
    this.mha = new MultiheadAttention(sd, 'multi_head_attention', D, heads);
    this.post = new Linear(sd, 'lstm_projection_post', D, H);
    this.proj0 = new Linear(sd, 'projection.0', 2 * H, 4 * H);
    this.proj2 = new Linear(sd, 'projection.2', 4 * H, outChannels * h * w);
    this.logSigma = sd.take('log_sigma', [], 0);
    const init = (kind: string): RnnState => ({
      hLower: sd.take(`initial_state_${kind}_h_lower`, [1, 1, H], 0.3).reshape([1, H]),
      cLower: sd.take(`initial_state_${kind}_c_lower`, [1, 1, H], 0.3).reshape([1, H]),
      hUpper: sd.take(`initial_state_${kind}_h_upper`, [1, 1, H], 0.3).reshape([1, H]),
      cUpper: sd.take(`initial_state_${kind}_c_upper`, [1, 1, H], 0.3).reshape([1, H]),
      feedback: sd.take(`initial_feedback_${kind}`, [1, H], 0.3),
    });
    this.initial = { padding: init('padding'), unknown: init('unknown') };
  }

  /** An event as variables and a key-rows tensor (the cursor clamped to the screen). */
  inputs(ev: RnnEvent): RnnVars {
    const { width: W, height: H } = this.cfg.screen,
      device = this.device;
    const int = (v: number, max: number, name: string) =>
      variable(Math.min(Math.max(Math.trunc(v), 0), max), { dtype: 'i32', min: 0, max, name, device });
    return {
      x: int(ev.x, W - 1, 'x'),
      y: int(ev.y, H - 1, 'y'),
      left: int(+ev.left, 1, 'left'),
      right: int(+ev.right, 1, 'right'),
      keys: tensor(
        ev.keys.map((k, i) => 2 * i + (k ? 1 : 0)),
        { dtype: 'i32', device },
      ),
    };
  }

  /** One frame: returns the conditioning [1, outChannels, h, w] and the next state (lazy tensors). */
  step(state: RnnState | undefined, inp: RnnInput): { out: Tensor; state: RnnState } {
    const { hidden: H, outChannels, keys } = this.cfg.rnn,
      { height: h, width: w } = latentSize(this.cfg);
    const s = inp.isPadding ? this.initial.padding : (state ?? this.initial.unknown);
    const ev = inp.x instanceof Tensor ? (inp as RnnVars) : this.inputs(inp as RnnEvent);
    const row = (v: Tensor) => v.reshape([1]),
      keyRows = ev.keys;
    const baseRows = arange(0, 2 * keys, 2, { device: this.device });
    const all = this.embLeft
      .forward(row(ev.left))
      .add(this.embRight.forward(row(ev.right)))
      .add(this.embKeys.forward(keyRows).sum(0, true).sub(this.embKeys.forward(baseRows).sum(0, true)));
    const lowerIn = cat([this.embX.forward(row(ev.x)), this.embY.forward(row(ev.y)), all, s.feedback], -1);
    const [hLower, cLower] = this.lower.step(lowerIn, s.hLower, s.cLower);
    const C = this.cfg.latentChannels;
    const tokens = this.imageProj.forward(inp.prevLatent.permute(0, 2, 3, 1).reshape([1, h * w, C])).add(this.posEmb);
    const q = this.pre.forward(hLower).reshape([1, 1, -1]);
    const context = this.post
      .forward(this.mha.forward(q, tokens, tokens))
      .reshape([1, H])
      .add(hLower);
    const [hUpper, cUpper] = this.upper.step(context, s.hUpper, s.cUpper);
    const out = this.proj2
      .forward(this.proj0.forward(cat([hUpper, hLower], -1)).leakyRelu(0.01))
      .reshape([1, outChannels, h, w]);
    // Gaussian cursor map on the latent grid: exp(-((j - x/8)² + (i - y/8)²) / (2σ²)), σ = exp(log_sigma)
    const at = (v: Tensor) => v.cast('f32').div(8);
    const j = arange(w, undefined, 1, { device: this.device }).cast('f32').sub(at(ev.x)).square().reshape([1, w]);
    const i = arange(h, undefined, 1, { device: this.device }).cast('f32').sub(at(ev.y)).square().reshape([h, 1]);
    const twoVar = this.logSigma.mul(2).exp().mul(2);
    const cursor = i.add(j).neg().div(twoVar).exp().reshape([1, 1, h, w]);
    return {
      out: cat([out.narrow(1, 0, outChannels - 1), cursor], 1),
      state: { hLower, cLower, hUpper, cUpper, feedback: hUpper },
    };
  }
}
