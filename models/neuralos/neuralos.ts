// One NeuralOS session: events in the reference demo's message format go through the state model, DDIM
// over the UNet and the autoencoder decoder to a uint8 RGB frame; the recurrent state and the previous
// latent are carried between frames. Runs on any device through the Tensor API.
import { type Tensor, cat, randn, realize, scope, setStage, tensor } from '../../index.js';
import { StateDict, type TensorSource, openWeights } from '../weights/state.js';
import { type NeuralOSConfig, latentSize } from './config.js';
import { ddimSample } from './ddim.js';
import { Decoder } from './decoder.js';
import { KEYS, keyIndex } from './keys.js';
import { type RnnState, StateModel } from './rnn.js';
import { UNet } from './unet.js';

/** A client message as the reference demo sends it. */
export interface NeuralOSEvent {
  readonly x: number; readonly y: number;
  readonly is_left_click?: boolean; readonly is_right_click?: boolean;
  readonly keys_down?: readonly string[]; readonly keys_up?: readonly string[];
  readonly wheel_delta_x?: number; readonly wheel_delta_y?: number;
}
export interface Frame {
  /** height × width × 3 bytes, row-major RGB */
  readonly image: Uint8Array;
  readonly width: number; readonly height: number;
  readonly ms: { readonly state: number; readonly unet: number; readonly decode: number };
  /** With StepOptions.dump: the state-model output, the sampled latent and the decoded image (float32). */
  readonly dump?: { readonly state: Float32Array; readonly latent: Float32Array; readonly decoded: Float32Array };
}
export interface StepOptions { readonly steps?: number; readonly noise?: Float32Array; readonly seed?: number; readonly dump?: boolean }
export interface LoadOptions {
  readonly weights?: string | TensorSource; readonly device?: string; readonly allowMissing?: boolean;
  /** Progress while tensors are read and uploaded. */
  readonly onProgress?: (taken: number, total: number) => void;
}

/** Checkpoint keys the player does not need (schedule buffers are recomputed; the encoder never runs). */
export const ignoredKeys = [/^(betas|alphas_cumprod.*|sqrt_.*|log_one_minus.*|posterior_.*|model_ema\..*|logvar)$/, /^first_stage_model\.(encoder|quant_conv)\./, /^model_ema\./];

/** The model: weights on one device, shared by any number of sessions. */
export class NeuralOS {
  readonly rnn: StateModel; readonly unet: UNet; readonly decoder: Decoder;
  readonly report: { problems: string[]; unexpected: string[] };
  readonly #default: Session;

  private constructor(readonly cfg: NeuralOSConfig, readonly device: string, sd: StateDict, allowMissing: boolean) {
    this.rnn = new StateModel(sd.sub('temporal_encoder.'), cfg, device);
    this.unet = new UNet(sd.sub('model.diffusion_model.'), cfg, device);
    this.decoder = new Decoder(sd.sub('first_stage_model.'), cfg);
    this.report = sd.report({ allowMissing, ignore: ignoredKeys });
    this.#default = new Session(this);
  }

  /** Builds the model; without weights it uses seeded random ones (the tiny demo). */
  static async load(cfg: NeuralOSConfig, opts: LoadOptions = {}): Promise<NeuralOS> {
    const device = opts.device ?? 'cpu';
    const source = typeof opts.weights === 'string' ? openWeights(opts.weights) : opts.weights;
    const sd = new StateDict(source, device);
    if (opts.onProgress) sd.onTake = opts.onProgress;
    const model = new NeuralOS(cfg, device, sd, opts.allowMissing ?? false);
    await sd.materialize();
    source?.close?.();
    return model;
  }

  /** A new session: its own recurrent state, previous latent and held keys. */
  session(): Session { return new Session(this); }

  // a default session, for scripts that drive one stream of events
  step(ev: NeuralOSEvent, opts: StepOptions = {}): Promise<Frame> { return this.#default.step(ev, opts); }
  reset(): void { this.#default.reset(); }
  get previousLatent(): Tensor | undefined { return this.#default.previousLatent; }
}

/** One user's stream of frames. */
export class Session {
  readonly keysDown = new Set<number>();
  #state: RnnState | undefined;
  #prev: Tensor | undefined;
  #frame = -1;

  constructor(readonly model: NeuralOS) {}

  get frameNumber(): number { return this.#frame; }
  get previousLatent(): Tensor | undefined { return this.#prev; }

  reset(): void {
    this.#disposeState();
    this.#prev?.dispose();
    this.#prev = undefined;
    this.#frame = -1;
    this.keysDown.clear();
  }

  #disposeState(): void {
    const s = this.#state, init = this.model.rnn.initial;
    if (s && s !== init.padding && s !== init.unknown) for (const t of Object.values(s)) (t as Tensor).dispose();
    this.#state = undefined;
  }

  /** The padding latent: a zero image latent, normalized per channel. */
  #paddingLatent(): Tensor {
    const cfg = this.model.cfg, { height: h, width: w } = latentSize(cfg), C = cfg.latentChannels, st = cfg.latentStats;
    return tensor(Float32Array.from({ length: C * h * w }, (_, i) => (0 - st.mean[Math.floor(i / (h * w))]!) / st.std[Math.floor(i / (h * w))]!), { shape: [1, C, h, w], device: this.model.device });
  }

  async step(ev: NeuralOSEvent, opts: StepOptions = {}): Promise<Frame> {
    const { cfg, device, rnn, unet, decoder } = this.model;
    const { width: W, height: H } = cfg.screen, { height: h, width: w } = latentSize(cfg), C = cfg.latentChannels;
    const steps = opts.steps ?? 32;
    if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new Error(`neuralos: steps must be an integer in [1, 1000], got ${steps}`);
    for (const k of ev.keys_down ?? []) { const i = keyIndex(k); if (i !== undefined) this.keysDown.add(i); }
    for (const k of ev.keys_up ?? []) { const i = keyIndex(k); if (i !== undefined) this.keysDown.delete(i); }
    const x = Math.min(Math.max(Math.trunc(ev.x), 0), W - 1), y = Math.min(Math.max(Math.trunc(ev.y), 0), H - 1);
    this.#frame++;
    const t0 = performance.now();
    const prevState = this.#state, prevLatent = this.#prev;
    const result = await scope(async () => {
      setStage('state model');
      const { out, state } = rnn.step(prevState, {
        x, y, left: !!ev.is_left_click, right: !!ev.is_right_click, keys: KEYS.map((_, i) => (this.keysDown.has(i) ? 1 : 0)),
        prevLatent: prevLatent ?? this.#paddingLatent(), isPadding: this.#frame === 0,
      });
      await realize(out, ...Object.values(state));
      const t1 = performance.now();
      setStage('unet');
      // realized first: a lazy randn would put its seed into the UNet graph and miss the schedule cache
      const noise = opts.noise
        ? tensor(opts.noise, { shape: [1, C, h, w], device })
        : await randn([1, C, h, w], { seed: opts.seed ?? this.#frame, device }).realize();
      const latent = await ddimSample(cfg, steps, noise, (xt, t) => unet.forward(cat([xt, out], 1), t));
      const t2 = performance.now();
      setStage('decoder');
      const st = cfg.latentStats;
      const z = latent.mul(tensor(st.std, { shape: [1, C, 1, 1], device })).add(tensor(st.mean, { shape: [1, C, 1, 1], device }));
      const decoded = decoder.forward(z);
      const rgb = decoded.clamp(-1, 1).add(1).mul(127.5).permute(0, 2, 3, 1);
      const image = Uint8Array.from(await rgb.data(), Math.trunc);
      const dump = opts.dump ? { state: Float32Array.from(await out.data()), latent: Float32Array.from(await latent.data()), decoded: Float32Array.from(await decoded.data()) } : undefined;
      return { state, latent, image, dump, ms: { state: t1 - t0, unet: t2 - t1, decode: performance.now() - t2 } };
    });
    setStage('');
    this.#disposeState();
    prevLatent?.dispose();
    this.#state = result.state;
    this.#prev = result.latent;
    return { image: result.image, width: W, height: H, ms: result.ms, dump: result.dump };
  }
}
