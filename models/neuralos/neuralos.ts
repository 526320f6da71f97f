// One NeuralOS session: events in the reference demo's message format go through the state model, DDIM
// over the UNet and the autoencoder decoder to a uint8 RGB frame; the recurrent state and the previous
// latent are carried between frames. Runs on any device through the Tensor API. Each stage is a jitted
// function of the model (shared by its sessions): after two frames a frame replays captured kernels, and the
// cursor, keys, timesteps and seeds reach them as variables, so no frame compiles anything.
import { type Tensor, cat, getDevice, jit, randn, scope, setStage, tensor, variable } from '../../index.js';
import { StateDict, type TensorSource, type WeightDtype, type WeightsReport } from '../weights/state.js';
import { type NeuralOSConfig, latentSize } from './config.js';
import { type DdimScales, alphasCumprod, ddimCalls, ddimUpdate, scaleVars, stepsProblem, timestepVar } from './ddim.js';
import { Decoder } from './decoder.js';
import { KEYS, keyIndex } from './keys.js';
import { type RnnState, type RnnVars, StateModel } from './rnn.js';

/** The file readers, loaded only where weights come from a path (Node): the browser bundle leaves them out. */
const fileReaders = '../weights/open.js';
const openFromDisk = async (): Promise<typeof import('../weights/open.js')> => import(/* @vite-ignore */ fileReaders);
import { UNet } from './unet.js';

/** A client message as the reference demo sends it. */
export interface NeuralOSEvent {
  readonly x: number;
  readonly y: number;
  readonly is_left_click?: boolean;
  readonly is_right_click?: boolean;
  readonly keys_down?: readonly string[];
  readonly keys_up?: readonly string[];
  readonly wheel_delta_x?: number;
  readonly wheel_delta_y?: number;
}
export interface Frame {
  /** height × width × 3 bytes, row-major RGB */
  readonly image: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly ms: { readonly state: number; readonly unet: number; readonly decode: number };
  /** With StepOptions.dump: the state-model output, the sampled latent and the decoded image (float32). */
  readonly dump?: { readonly state: Float32Array; readonly latent: Float32Array; readonly decoded: Float32Array };
}
export interface StepOptions {
  readonly steps?: number;
  readonly noise?: Float32Array;
  readonly seed?: number;
  readonly dump?: boolean;
}
export interface LoadOptions {
  readonly weights?: string | TensorSource;
  readonly device?: string;
  readonly allowMissing?: boolean;
  /** How weights are stored: f16 or bf16 halve their memory (5.1 GB for the full model; WebGPU keeps bf16 in f32). */
  readonly dtype?: WeightDtype;
  /** Progress while tensors are read and uploaded. */
  readonly onProgress?: (taken: number, total: number) => void;
}

/** Checkpoint keys the player does not need (schedule buffers are recomputed; the encoder never runs). */
export const ignoredKeys = [
  /^(betas|alphas_cumprod.*|sqrt_.*|log_one_minus.*|posterior_.*|model_ema\..*|logvar)$/,
  /^first_stage_model\.(encoder|quant_conv)\./,
  /^model_ema\./,
];

/**
 * The sampler computes ᾱ from the config (as the reference's make_schedule from its YAML); a checkpoint that stores
 * its own (alphas_cumprod, which the reference's load_state_dict would install) must agree, or frames would differ.
 */
function checkSchedule(cfg: NeuralOSConfig, source: TensorSource): void {
  const name = 'alphas_cumprod';
  if (!source.names.includes(name)) return;
  const stored = source.read(name),
    want = alphasCumprod(cfg);
  const at = stored.length === want.length ? want.findIndex((a, t) => Math.abs(stored[t]! - a) > 1e-6 * a) : 0;
  if (at >= 0)
    throw new Error(
      `neuralos: the checkpoint's ${name} (${stored.length} steps) differs from the config's schedule at t=${at} ` +
        `(${stored[at]} vs ${want[at]}: ${cfg.diffusion.timesteps} steps, linear ${cfg.diffusion.linearStart}` +
        `..${cfg.diffusion.linearEnd}); pass the --config the checkpoint was trained with`,
    );
}

/** The model: weights on one device, shared by any number of sessions. */
export class NeuralOS {
  readonly rnn: StateModel;
  readonly unet: UNet;
  readonly decoder: Decoder;
  readonly report: WeightsReport;
  readonly #default: Session;
  /** The latent statistics as [1, C, 1, 1] tensors, and the padding latent (a zero image, normalized). */
  readonly latentStd: Tensor;
  readonly latentMean: Tensor;
  readonly paddingLatent: Tensor;

  /** The jitted stages: one state-model step, one UNet call (with or without the DDIM update), the decoder to RGB. */
  readonly stateStep = jit((s: RnnState, prevLatent: Tensor, ev: RnnVars) =>
    this.rnn.step(s, { ...ev, prevLatent, isPadding: false }),
  );
  readonly denoise = jit((x: Tensor, cond: Tensor, t: Tensor) => this.unet.forward(cat([x, cond], 1), t));
  readonly ddimStep = jit((x: Tensor, cond: Tensor, t: Tensor, s: Record<keyof DdimScales, Tensor>) =>
    ddimUpdate(x, this.unet.forward(cat([x, cond], 1), t), s),
  );
  readonly decode = jit((latent: Tensor) => packRgb(this.decoder.forward(this.denormalize(latent))));
  /** A frame's initial latent x_T ~ N(0, I) from a u32 seed variable. */
  readonly noise = jit((seed: Tensor) => {
    const { height: h, width: w } = latentSize(this.cfg);
    return randn([1, this.cfg.latentChannels, h, w], { seed, device: this.device });
  });

  private constructor(
    readonly cfg: NeuralOSConfig,
    readonly device: string,
    sd: StateDict,
    allowMissing: boolean,
  ) {
    this.rnn = new StateModel(sd.sub('temporal_encoder.'), cfg, device);
    this.unet = new UNet(sd.sub('model.diffusion_model.'), cfg, device);
    this.decoder = new Decoder(sd.sub('first_stage_model.'), cfg);
    this.report = sd.report({ allowMissing, ignore: ignoredKeys });
    const { height: h, width: w } = latentSize(cfg),
      C = cfg.latentChannels,
      st = cfg.latentStats;
    this.latentStd = tensor(st.std, { shape: [1, C, 1, 1], device });
    this.latentMean = tensor(st.mean, { shape: [1, C, 1, 1], device });
    this.paddingLatent = tensor(
      Float32Array.from(
        { length: C * h * w },
        (_, i) => (0 - st.mean[Math.floor(i / (h * w))]!) / st.std[Math.floor(i / (h * w))]!,
      ),
      { shape: [1, C, h, w], device },
    );
    this.#default = new Session(this);
  }

  /** Builds the model; without weights it uses seeded random ones (the tiny demo). */
  static async load(cfg: NeuralOSConfig, opts: LoadOptions = {}): Promise<NeuralOS> {
    const device = opts.device ?? 'cpu';
    const source = typeof opts.weights === 'string' ? (await openFromDisk()).openWeights(opts.weights) : opts.weights;
    if (source) checkSchedule(cfg, source);
    const sd = new StateDict(source, device, '', undefined, opts.dtype);
    if (opts.onProgress) sd.onTake = opts.onProgress;
    const model = new NeuralOS(cfg, device, sd, opts.allowMissing ?? false);
    await sd.materialize();
    // the initial states are views of weights: realized once, they are arguments a jitted step takes as they are
    for (const s of Object.values(model.rnn.initial)) for (const t of Object.values(s)) await (t as Tensor).realize();
    source?.close?.();
    return model;
  }

  /** A sampled latent from noise and the state model's conditioning: one jitted UNet call per DDIM step. */
  async sample(steps: number, noise: Tensor, cond: Tensor): Promise<Tensor> {
    let x = noise;
    for (const call of ddimCalls(this.cfg, steps)) {
      const t = timestepVar(this.cfg, call.t, this.device);
      const next = await (call.update
        ? this.ddimStep(x, cond, t, scaleVars(call.update, this.device))
        : this.denoise(x, cond, t));
      if (x !== noise) x.dispose();
      x = next;
    }
    return x;
  }

  /** A normalized latent back to the autoencoder's scale. */
  denormalize(latent: Tensor): Tensor {
    return latent.mul(this.latentStd).add(this.latentMean);
  }

  /** A new session: its own recurrent state, previous latent and held keys. */
  session(): Session {
    return new Session(this);
  }

  // a default session, for scripts that drive one stream of events
  step(ev: NeuralOSEvent, opts: StepOptions = {}): Promise<Frame> {
    return this.#default.step(ev, opts);
  }
  reset(): void {
    this.#default.reset();
  }
  get previousLatent(): Tensor | undefined {
    return this.#default.previousLatent;
  }
}

/**
 * An image in [-1, 1] [1, 3, H, W] as the bytes of H × W × 3 RGB (clamped, scaled to [0, 255], truncated),
 * four to a 32-bit word, computed on the device: a frame reads back a quarter of the floats.
 */
function packRgb(image: Tensor): Tensor {
  const n = image.numel;
  if (n % 4) throw new Error(`neuralos: an image of ${n} bytes does not pack into 32-bit words`);
  const bytes = image
    .clamp(-1, 1)
    .add(1)
    .mul(127.5)
    .permute(0, 2, 3, 1)
    .reshape([n / 4, 4])
    .cast('u32');
  return bytes.mul(tensor([1, 256, 65536, 16777216], { dtype: 'u32', device: image.device })).sum(1);
}

/** One user's stream of frames. */
export class Session {
  readonly keysDown = new Set<number>();
  #state: RnnState | undefined;
  #prev: Tensor | undefined;
  #frame = -1;

  constructor(readonly model: NeuralOS) {}

  get frameNumber(): number {
    return this.#frame;
  }
  get previousLatent(): Tensor | undefined {
    return this.#prev;
  }

  reset(): void {
    this.#disposeState();
    this.#prev?.dispose();
    this.#prev = undefined;
    this.#frame = -1;
    this.keysDown.clear();
  }

  #disposeState(): void {
    const s = this.#state,
      init = this.model.rnn.initial;
    if (s && s !== init.padding && s !== init.unknown) for (const t of Object.values(s)) (t as Tensor).dispose();
    this.#state = undefined;
  }

  async step(ev: NeuralOSEvent, opts: StepOptions = {}): Promise<Frame> {
    const { cfg, device, rnn, decoder } = this.model,
      backend = getDevice(device);
    const { width: W, height: H } = cfg.screen,
      { height: h, width: w } = latentSize(cfg),
      C = cfg.latentChannels;
    const steps = opts.steps ?? 32,
      problem = stepsProblem(steps, cfg.diffusion.timesteps);
    if (problem) throw new Error(`neuralos: ${problem}`);
    for (const k of ev.keys_down ?? []) {
      const i = keyIndex(k);
      if (i !== undefined) this.keysDown.add(i);
    }
    for (const k of ev.keys_up ?? []) {
      const i = keyIndex(k);
      if (i !== undefined) this.keysDown.delete(i);
    }
    this.#frame++;
    const t0 = performance.now();
    // the first frame starts from the padding state and latent; later ones from the last frame's
    const first = this.#frame === 0;
    const prevState = first ? rnn.initial.padding : (this.#state ?? rnn.initial.unknown);
    const prevLatent = first ? this.model.paddingLatent : (this.#prev ?? this.model.paddingLatent);
    const result = await scope(async () => {
      setStage('state model');
      const inputs = rnn.inputs({
        x: ev.x,
        y: ev.y,
        left: !!ev.is_left_click,
        right: !!ev.is_right_click,
        keys: KEYS.map((_, i) => (this.keysDown.has(i) ? 1 : 0)),
      });
      const { out, state } = await this.model.stateStep(prevState, prevLatent, inputs);
      // a jitted stage returns once its launches are submitted: wait for the device, or an asynchronous backend's
      // time would all land on the stage that reads the frame back
      await backend.sync();
      const t1 = performance.now();
      setStage('unet');
      const noise = opts.noise
        ? tensor(opts.noise, { shape: [1, C, h, w], device })
        : await this.model.noise(variable((opts.seed ?? this.#frame) >>> 0, { dtype: 'u32', name: 'seed', device }));
      const latent = await this.model.sample(steps, noise, out);
      await backend.sync();
      const t2 = performance.now();
      setStage('decoder');
      const packed = await this.model.decode(latent);
      const image = new Uint8Array((await packed.data()).buffer, 0, W * H * 3);
      const dump = opts.dump
        ? {
            state: Float32Array.from(await out.data()),
            latent: Float32Array.from(await latent.data()),
            decoded: Float32Array.from(await decoder.forward(this.model.denormalize(latent)).data()),
          }
        : undefined;
      return { state, latent, image, dump, ms: { state: t1 - t0, unet: t2 - t1, decode: performance.now() - t2 } };
    });
    setStage('');
    this.#disposeState();
    this.#prev?.dispose();
    this.#state = result.state;
    this.#prev = result.latent;
    return { image: result.image, width: W, height: H, ms: result.ms, dump: result.dump };
  }
}
