"""The demo NeuralOS in PyTorch: the reference modules restated in test/fixtures/make_neuralos_fixtures.py (state
model, UNet, AE decoder, DDIM), plus the AE encoder the fixtures leave out, built from a NeuralOSConfig dict
(models/neuralos/config.ts) and named with the reference state-dict keys."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'test', 'fixtures'))
import make_neuralos_fixtures as ref  # noqa: E402  (sets one thread on import; callers set their own)

assert ref.CURSOR_FACTOR == 8 and ref.TIMESTEPS == 1000


class Downsample(nn.Module):
    """LDM Encoder downsampling: pad (0, 1, 0, 1), then a 3x3 conv with stride 2 and no padding."""
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 2, 0)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1), mode='constant', value=0))


class Encoder(nn.Module):
    """diffusionmodules/model.py Encoder (attn_resolutions [], double_z): image -> 2 * z channels at /2^(L-1)."""
    def __init__(self, ch, ch_mult, nrb, z_channels, in_ch=3):
        super().__init__()
        self.conv_in = nn.Conv2d(in_ch, ch, 3, 1, 1)
        in_mult = (1,) + tuple(ch_mult)
        self.down = nn.ModuleList()
        block_in = ch
        for i, m in enumerate(ch_mult):
            level = nn.Module()
            level.block = nn.ModuleList()
            block_in, block_out = ch * in_mult[i], ch * m
            for _ in range(nrb):
                level.block.append(ref.ResnetBlock(block_in, block_out))
                block_in = block_out
            level.attn = nn.ModuleList()
            if i != len(ch_mult) - 1:
                level.downsample = Downsample(block_in)
            self.down.append(level)
        self.mid = nn.Module()
        self.mid.block_1 = ref.ResnetBlock(block_in, block_in)
        self.mid.attn_1 = ref.AttnBlock(block_in)
        self.mid.block_2 = ref.ResnetBlock(block_in, block_in)
        self.norm_out = ref.ae_norm(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels, 3, 1, 1)

    def forward(self, x):
        h = self.conv_in(x)
        for i, level in enumerate(self.down):
            for b in level.block:
                h = b(h)
            if hasattr(level, 'downsample'):
                h = level.downsample(h)
        h = self.mid.block_2(self.mid.attn_1(self.mid.block_1(h)))
        return self.conv_out(ref.swish(self.norm_out(h)))


class Autoencoder(nn.Module):
    """AutoencoderKL: encoder + quant_conv -> (mean, logvar); post_quant_conv + decoder."""
    def __init__(self, ae, z):
        super().__init__()
        self.encoder = Encoder(ae['ch'], ae['chMult'], ae['numResBlocks'], z)
        self.decoder = ref.Decoder(ae['ch'], 3, ae['chMult'], ae['numResBlocks'], z)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)
        self.post_quant_conv = nn.Conv2d(z, z, 1)

    def encode(self, x):
        mean, logvar = self.quant_conv(self.encoder(x)).chunk(2, dim=1)
        return mean, torch.clamp(logvar, -30.0, 20.0)

    def decode(self, z):
        return self.decoder(self.post_quant_conv(z))



class DemoNeuralOS(nn.Module):
    """The whole model with the reference key layout: schedule buffers, model.diffusion_model.*,
    first_stage_model.*, temporal_encoder.*"""
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        C, r, u = cfg['latentChannels'], cfg['rnn'], cfg['unet']
        self.lh, self.lw = cfg['screen']['height'] // 8, cfg['screen']['width'] // 8
        for name, buf in ref.schedule_buffers().items():
            self.register_buffer(name, buf)
        self.model = ref.Holder()
        self.model.diffusion_model = ref.UNet(C + r['outChannels'], u['modelChannels'], C, u['numResBlocks'],
                                              u['attentionResolutions'], u['channelMult'], u['numHeadChannels'])
        self.first_stage_model = Autoencoder(cfg['ae'], C)
        self.temporal_encoder = ref.TemporalEncoder(C, r['hidden'], r['outChannels'], self.lh, self.lw,
                                                    r['attnDim'], r['heads'], r['keys'])
        self.set_stats(cfg['latentStats']['mean'], cfg['latentStats']['std'])

    def set_stats(self, mean, std):
        self.register_buffer('latent_mean', torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)
        self.register_buffer('latent_std', torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

    def apply_model(self, x, t, c_concat):
        return self.model.diffusion_model(torch.cat([x, c_concat], dim=1), t)

    def padding_latent(self, b=1):
        return ((0 - self.latent_mean) / self.latent_std).expand(b, -1, self.lh, self.lw)

    def decode_normalized(self, latent):
        return self.first_stage_model.decode(latent * self.latent_std + self.latent_mean)


def param_count(m):
    return sum(p.numel() for p in m.parameters())


def shipped_weights(model):
    """The whole state dict as the fixtures store it: parameters f16, schedule buffers f32. The AE encoder and
    quant_conv are kept (polygrad ignores them, as in the released checkpoint): the file is a complete model."""
    params = {n for n, _ in model.named_parameters()}
    out = {}
    for k, v in model.state_dict().items():
        out[k] = v.detach().clone().contiguous().to(torch.float16 if k in params else torch.float32)
    return out


def round_to_f16(model):
    """Rounds every parameter to f16 in place: what the shipped file holds, so evaluations measure it."""
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(p.half().float())


write_safetensors = ref.write_safetensors
read_safetensors = ref.read_safetensors


def read_npy_dir(path):
    """The arrays scripts/demo/dump.ts writes: name.npy files plus meta.json."""
    with open(os.path.join(path, 'meta.json')) as f:
        meta = json.load(f)
    arrays = {}
    for name in meta['arrays']:
        arrays[name] = np.load(os.path.join(path, name + '.npy'), mmap_mode='r')
    return meta, arrays
