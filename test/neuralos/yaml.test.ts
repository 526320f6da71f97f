// The reference's LDM YAML config maps onto our config, and a YAML + PyTorch checkpoint pair runs.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { fullConfig, tinyConfig, type NeuralOSConfig } from '../../models/neuralos/config.js';
import { configFromYaml } from '../../models/neuralos/yaml.js';
import { configNamed, loadModel } from '../../app/neuralos.js';
import { SafetensorsFile } from '../../models/weights/safetensors.js';

/** A config in the reference's layout (as config_final_model_origunet_nospatial_x0.yaml lays it out). */
const referenceYaml = (c: NeuralOSConfig, extra = ''): string => `model:
  base_learning_rate: 8.0e-05
  target: ldm.models.diffusion.ddpm.LatentDiffusion
  params:
    linear_start: ${c.diffusion.linearStart}
    linear_end: ${c.diffusion.linearEnd}
    timesteps: ${c.diffusion.timesteps}
    scale_factor: 1.0
    parameterization: x0
    unet_config:
      target: ldm.modules.diffusionmodules.openaimodel.UNetModel
      params:
        image_size: [${c.screen.width / 8}, ${c.screen.height / 8}]
        in_channels: ${c.latentChannels + c.rnn.outChannels}
        out_channels: ${c.latentChannels}
        model_channels: ${c.unet.modelChannels}
        attention_resolutions: [${c.unet.attentionResolutions.join(', ')}]
        num_res_blocks: ${c.unet.numResBlocks}
        channel_mult: [${c.unet.channelMult.join(', ')}]
        num_head_channels: ${c.unet.numHeadChannels}
        use_spatial_transformer: false
    first_stage_config:
      target: ldm.models.autoencoder.AutoencoderKL
      params:
        embed_dim: ${c.latentChannels}
        ddconfig:
          double_z: true
          z_channels: ${c.latentChannels}
          resolution: 256
          in_channels: 3
          out_ch: 3
          ch: ${c.ae.ch}
          ch_mult: [${c.ae.chMult.join(', ')}]
          num_res_blocks: ${c.ae.numResBlocks}
          attn_resolutions: []
          dropout: 0.0
    temporal_encoder_config:
      target: ldm.modules.encoders.temporal_encoder.TemporalEncoder
      params:
        input_channels: ${c.latentChannels}
        hidden_size: ${c.rnn.hidden}
        num_layers: 1
        dropout: 0.1
        output_channels: ${c.rnn.outChannels}
        output_height: ${c.screen.height / 8}
        output_width: ${c.screen.width / 8}
${extra}`;

describe('reference YAML config', () => {
  test('the full model: the reference layout gives our full config', () => {
    expect(configFromYaml(referenceYaml(fullConfig))).toEqual(fullConfig);
  });

  test('clear errors for what does not fit', () => {
    expect(() => configFromYaml('model:\n  params: {}\n')).toThrow(
      'config: the YAML has no model.params.unet_config.params.out_channels (expected the reference LDM config)',
    );
    expect(() => configFromYaml(referenceYaml(tinyConfig))).toThrow(
      'config: latent stats for 4 channels are needed (pass --latent-stats latent_stats.json)',
    );
  });

  test('scale_factor may be left out (LDM defaults it to 1.0); sizes and numbers are validated', () => {
    expect(configFromYaml(referenceYaml(fullConfig).replace('    scale_factor: 1.0\n', ''))).toEqual(fullConfig);
    const bad = (from: string, to: string) => () =>
      configFromYaml(referenceYaml(fullConfig).replace(from, to), undefined, 'x.yaml');
    expect(bad('model_channels: 192', 'model_channels: .inf')).toThrow(
      'config x.yaml: unet.modelChannels must be a positive integer, got Infinity',
    );
    expect(bad('num_res_blocks: 2', 'num_res_blocks: -2')).toThrow(
      'config x.yaml: unet.numResBlocks must be a positive integer, got -2',
    );
    expect(bad('linear_end: 0.0195', 'linear_end: .nan')).toThrow(
      'config x.yaml: diffusion.linearEnd must be a number in (0, 1), got NaN',
    );
    expect(bad('hidden_size: 4096', 'hidden_size: 0')).toThrow(
      'config x.yaml: rnn.hidden must be a positive integer, got 0',
    );
    expect(bad('timesteps: 1000', 'timesteps: [1')).toThrow(/^config x\.yaml: not YAML: /);
  });

  test('a JSON --config is validated field by field', () => {
    const d = mkdtempSync(join(tmpdir(), 'polygrad-config-'));
    const write = (name: string, value: unknown) => {
      writeFileSync(join(d, name), JSON.stringify(value));
      return join(d, name);
    };
    expect(configNamed(write('ok.json', tinyConfig))).toEqual(tinyConfig);
    const heads = write('heads.json', { ...tinyConfig, rnn: { ...tinyConfig.rnn, heads: 3 } });
    expect(() => configNamed(heads)).toThrow(
      `config ${heads}: rnn.attnDim must be a multiple of rnn.heads (3), got ${tinyConfig.rnn.attnDim}`,
    );
    const screen = write('screen.json', { ...tinyConfig, screen: { width: 60, height: 64 } });
    expect(() => configNamed(screen)).toThrow(
      `config ${screen}: screen.width must be a multiple of 8 (the autoencoder downsamples by 8), got 60`,
    );
    const std = write('std.json', { ...tinyConfig, latentStats: { ...tinyConfig.latentStats, std: [1, 0, 1, 1] } });
    expect(() => configNamed(std)).toThrow(
      `config ${std}: latentStats.std must be 4 finite numbers above 0 (one per latent channel), got [1,0,1,1]`,
    );
    writeFileSync(join(d, 'broken.json'), '{"screen": ');
    expect(() => configNamed(join(d, 'broken.json'))).toThrow(/^config .*broken\.json: not JSON: /);
    expect(() => configNamed(join(d, 'absent.json'))).toThrow(
      `--config ${join(d, 'absent.json')}: no such file (or use full, tiny or demo)`,
    );
  });

  test('a tiny YAML + the PyTorch checkpoint fixture renders the reference first frame', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polygrad-yaml-'));
    const yaml = join(dir, 'tiny.yaml'),
      stats = join(dir, 'latent_stats.json');
    writeFileSync(
      yaml,
      referenceYaml(
        tinyConfig,
        `        attention_dim: ${tinyConfig.rnn.attnDim}\n        num_heads: ${tinyConfig.rnn.heads}\n`,
      ),
    );
    writeFileSync(stats, JSON.stringify(tinyConfig.latentStats));
    const { model } = await loadModel(
      { config: yaml, 'latent-stats': stats, checkpoint: 'test/fixtures/neuralos/weights.ckpt' },
      'cpu',
    );
    expect(model.cfg).toEqual(tinyConfig);
    const cases = new SafetensorsFile('test/fixtures/neuralos/cases.safetensors');
    await model.step({ x: 10, y: 20, keys_down: [] }, { steps: 4, noise: cases.read('frames.noise0') });
    const got = await model.previousLatent!.data(),
      want = cases.read('frames.latent0');
    const scale = Math.max(...want.map(Math.abs));
    got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-4 * scale));
    cases.close();
  }, 60_000);
});
