// The reference's LDM YAML config (model.params.{unet,first_stage,temporal_encoder}_config, schedule,
// scale factor) as a NeuralOSConfig. Latent stats are not in the YAML: they come from latent_stats.json
// (or default to the released model's). The reference derives the state model's attention width as
// input_channels·64 with 8 heads; `attention_dim` / `num_heads` in its params override that (tiny configs).
import { parse } from 'yaml';
import { type NeuralOSConfig, checkConfig, fullConfig } from './config.js';

type Obj = Record<string, unknown>;

function at(root: unknown, path: string): unknown {
  let v = root;
  for (const k of path.split('.')) {
    if (typeof v !== 'object' || v === null || !(k in v))
      throw new Error(`config: the YAML has no ${path} (expected the reference LDM config)`);
    v = (v as Obj)[k];
  }
  return v;
}
const num = (root: unknown, path: string): number => {
  const v = at(root, path);
  if (typeof v !== 'number') throw new Error(`config: ${path} must be a number, got ${JSON.stringify(v)}`);
  return v;
};
const nums = (root: unknown, path: string): number[] => {
  const v = at(root, path);
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number'))
    throw new Error(`config: ${path} must be a list of numbers, got ${JSON.stringify(v)}`);
  return v as number[];
};

export function configFromYaml(
  text: string,
  latentStats?: { mean: number[]; std: number[] },
  source = 'YAML',
): NeuralOSConfig {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`config ${source}: not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  const p = 'model.params',
    u = `${p}.unet_config.params`,
    a = `${p}.first_stage_config.params.ddconfig`,
    t = `${p}.temporal_encoder_config.params`;
  const latent = num(doc, `${u}.out_channels`);
  const te = at(doc, t) as Obj;
  // LDM's default scale factor is 1.0, and the demo's YAML files leave it out
  const scale = (at(doc, p) as Obj).scale_factor === undefined ? 1 : num(doc, `${p}.scale_factor`);
  if (scale !== 1) throw new Error(`config: scale_factor ${scale} is not supported (NeuralOS uses 1.0)`);
  if (num(doc, `${u}.in_channels`) !== latent + num(doc, `${t}.output_channels`))
    throw new Error('config: unet in_channels must be latent channels + temporal encoder output_channels');
  const stats = latentStats ?? (latent === fullConfig.latentChannels ? fullConfig.latentStats : undefined);
  if (!stats || stats.mean.length !== latent || stats.std.length !== latent)
    throw new Error(`config: latent stats for ${latent} channels are needed (pass --latent-stats latent_stats.json)`);
  return checkConfig(
    {
      screen: { width: num(doc, `${t}.output_width`) * 8, height: num(doc, `${t}.output_height`) * 8 },
      latentChannels: latent,
      latentStats: stats,
      rnn: {
        hidden: num(doc, `${t}.hidden_size`),
        attnDim: typeof te.attention_dim === 'number' ? te.attention_dim : num(doc, `${t}.input_channels`) * 64,
        heads: typeof te.num_heads === 'number' ? te.num_heads : 8,
        outChannels: num(doc, `${t}.output_channels`),
        keys: 179,
      },
      unet: {
        modelChannels: num(doc, `${u}.model_channels`),
        channelMult: nums(doc, `${u}.channel_mult`),
        numResBlocks: num(doc, `${u}.num_res_blocks`),
        attentionResolutions: nums(doc, `${u}.attention_resolutions`),
        numHeadChannels: num(doc, `${u}.num_head_channels`),
      },
      ae: { ch: num(doc, `${a}.ch`), chMult: nums(doc, `${a}.ch_mult`), numResBlocks: num(doc, `${a}.num_res_blocks`) },
      diffusion: {
        timesteps: num(doc, `${p}.timesteps`),
        linearStart: num(doc, `${p}.linear_start`),
        linearEnd: num(doc, `${p}.linear_end`),
      },
    },
    source,
  );
}
