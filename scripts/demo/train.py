#!/usr/bin/env python3
"""Trains the demo NeuralOS on the synthetic desktop (app/desktop/), in the reference's stages:

  1. data   seeded random sessions from the simulator (node dist/scripts/demo/dump.js), train and validation seeds
  2. ae     the KL autoencoder on frames (L1 + L2 + a small KL term)
  3. stats  per-channel latent mean / std over the training frames (the config's latentStats)
  4. joint  the state model + UNet with the x0 diffusion loss on normalized latents, whole sessions from the padding
            frame: teacher forcing (the previous frame's true latent), then scheduled sampling (some previous
            latents replaced by the model's own one-call prediction)
  5. export f16 safetensors with the reference key names, the config (our JSON), the log, and a parity fixture:
            the scripted session sampled by PyTorch (DDIM, 8 steps) from fixed noise, with the f16 weights

Run from the repository root after `npm run build` (or `npm run demo:train`):
    python3 scripts/demo/train.py [--out demo] [--quick]
Needs PyTorch (Debian: apt-get install python3-torch python3-numpy) and Node. Float32 on the CPU, 2 threads;
the step counts below fit an hour on 2 cores. --quick runs a few steps of each stage (a smoke test of the script).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import modules as M  # noqa: E402

ROOT = M.ROOT
ref = M.ref

CONFIG = {
    'screen': {'width': 64, 'height': 48},
    'latentChannels': 16,
    'latentStats': {'mean': [0.0] * 16, 'std': [1.0] * 16},
    'rnn': {'hidden': 128, 'attnDim': 64, 'heads': 4, 'outChannels': 8, 'keys': 179},
    'unet': {'modelChannels': 64, 'channelMult': [1, 2], 'numResBlocks': 1, 'attentionResolutions': [2, 4, 8],
             'numHeadChannels': 32},
    'ae': {'ch': 32, 'chMult': [1, 1, 2, 2], 'numResBlocks': 1},
    'diffusion': {'timesteps': 1000, 'linearStart': 0.0015, 'linearEnd': 0.0195},
}
STEPS = {'ae': 4000, 'teacher': 1100, 'scheduled': 500}
BATCH = {'ae': 16, 'joint': 6}
CURSOR_WEIGHT = 10.0      # the AE loss's extra weight on the cursor's box
SCHEDULED_RATE = 0.25      # share of previous latents replaced by the model's own prediction in the last stage
EVAL_STEPS = 8             # DDIM steps for the sampled evaluation and the parity fixture


class Log:
    def __init__(self, path):
        self.f = open(path, 'w')
        self.t0 = time.time()

    def __call__(self, msg):
        line = f'[{time.time() - self.t0:7.1f}s] {msg}'
        print(line, flush=True)
        self.f.write(line + '\n')
        self.f.flush()


def dump(out, sessions, frames, seed, log, scripted=False):
    if not os.path.exists(os.path.join(out, 'meta.json')):
        cmd = ['node', os.path.join(ROOT, 'dist', 'scripts', 'demo', 'dump.js'), out]
        cmd += ['--scripted'] if scripted else \
            ['--sessions', str(sessions), '--frames', str(frames), '--seed', str(seed)]
        log(' '.join(cmd[1:]))
        subprocess.run(cmd, check=True)
    meta, arrays = M.read_npy_dir(out)
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in arrays.items()}


def to_image(frames_u8):
    """uint8 [..., H, W, 3] -> float [-1, 1] [..., 3, H, W]"""
    return frames_u8.float().div(127.5).sub(1).movedim(-1, -3)


def lr_at(step, total, peak, warmup=100):
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


def psnr(a_u8, b_u8):
    se = (a_u8.float() - b_u8.float()).pow(2).mean()
    return float('inf') if se == 0 else float(10 * torch.log10(255 ** 2 / se))


def train_ae(model, data, val, steps, log, seed):
    ae = model.first_stage_model
    opt = torch.optim.AdamW(ae.parameters(), lr=1e-3, weight_decay=0.0)
    frames = data['frames'].reshape(-1, *data['frames'].shape[2:])
    cx, cy = data['x'].reshape(-1).long(), data['y'].reshape(-1).long()
    H, W = frames.shape[1:3]
    gy, gx = torch.arange(H).view(1, H, 1), torch.arange(W).view(1, 1, W)
    g = torch.Generator().manual_seed(seed)
    ae.train()
    for step in range(steps):
        for group in opt.param_groups:
            group['lr'] = lr_at(step, steps, 1e-3)
        idx = torch.randint(0, frames.shape[0], (BATCH['ae'],), generator=g)
        x = to_image(frames[idx])
        mean, logvar = ae.encode(x)
        # the posterior mean, not a sample: with a KL weight this small the sampling noise only slows the decoder down
        # (the diffusion stage encodes to the mean as well)
        rec = ae.decode(mean)
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).sum(dim=(1, 2, 3)).mean()
        # the cursor is 2 % of the pixels and most of the error: its box (the arrow is 6 x 10) weighs more
        x0, y0 = cx[idx].view(-1, 1, 1), cy[idx].view(-1, 1, 1)
        box = ((gx >= x0) & (gx < x0 + 6) & (gy >= y0) & (gy < y0 + 10)).unsqueeze(1)
        w = 1 + CURSOR_WEIGHT * box.float()
        d = rec - x
        loss = (w * (0.5 * d.abs() + d.pow(2))).mean() / w.mean() + 1e-6 * kl
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        if step % 250 == 0 or step == steps - 1:
            log(f'ae {step:5d}/{steps}  loss {loss.item():.4f}  kl {kl.item():.1f}  val psnr {ae_psnr(ae, val):.2f} dB')
    ae.eval()


@torch.no_grad()
def ae_psnr(ae, val, n=256):
    was = ae.training
    ae.eval()
    f = val['frames'].reshape(-1, *val['frames'].shape[2:])[:n]
    rec = ae.decode(ae.encode(to_image(f))[0])
    out = ((rec.clamp(-1, 1) + 1) * 127.5).movedim(-3, -1).to(torch.uint8)
    ae.train(was)
    return psnr(out, f)


@torch.no_grad()
def encode_all(model, data, batch=256):
    """Posterior means of every frame: [N, T, C, h, w] (unnormalized)."""
    f = data['frames']
    N, T = f.shape[:2]
    flat = f.reshape(N * T, *f.shape[2:])
    out = [model.first_stage_model.encode(to_image(flat[i:i + batch]))[0] for i in range(0, N * T, batch)]
    return torch.cat(out).reshape(N, T, *out[0].shape[1:])


def run_state_model(model, prev, data, idx):
    """The state model over whole sessions from the padding frame: conditioning [B, T, outC, h, w]."""
    te = model.temporal_encoder
    B, T = prev.shape[:2]
    hidden, conds = None, []
    for t in range(T):
        inp = {
            'image_features': prev[:, t],
            'is_padding': torch.full((B,), t == 0, dtype=torch.bool),
            'x': data['x'][idx, t].long().unsqueeze(-1), 'y': data['y'][idx, t].long().unsqueeze(-1),
            'is_leftclick': data['left'][idx, t].bool().unsqueeze(-1),
            'is_rightclick': data['right'][idx, t].bool().unsqueeze(-1),
            'key_events': data['keys'][idx, t].long(),
        }
        if hidden is not None:
            inp['hidden_states'] = hidden
        cond, hidden = te.forward_step(inp)
        conds.append(cond)
    return torch.stack(conds, 1)


def previous_latents(model, latents):
    """The state model's image input at each frame: the padding latent, then the previous frame's latent."""
    B = latents.shape[0]
    pad = model.padding_latent(B).unsqueeze(1)
    return torch.cat([pad, latents[:, :-1]], 1)


def train_joint(model, data, latents, val, val_latents, log, seed):
    params = list(model.temporal_encoder.parameters()) + list(model.model.diffusion_model.parameters())
    opt = torch.optim.AdamW(params, lr=3e-4, weight_decay=0.0)
    ac = model.alphas_cumprod
    g = torch.Generator().manual_seed(seed)
    N = latents.shape[0]
    total = STEPS['teacher'] + STEPS['scheduled']
    for step in range(total):
        for group in opt.param_groups:
            group['lr'] = lr_at(step, total, 3e-4)
        idx = torch.randint(0, N, (BATCH['joint'],), generator=g)
        x0 = latents[idx]
        B, T = x0.shape[:2]
        prev = previous_latents(model, x0)
        scheduled = step >= STEPS['teacher']
        if scheduled:
            # the model's own one-call prediction (t = T-1 from noise) of each frame, fed back as the next frame's input
            with torch.no_grad():
                cond = run_state_model(model, prev, data, idx)
                noise = torch.randn(x0.shape, generator=g)
                tt = torch.full((B * T,), 999, dtype=torch.long)
                own = model.apply_model(noise.flatten(0, 1), tt, cond.flatten(0, 1)).reshape(x0.shape)
            swap = torch.rand(B, T, 1, 1, 1, generator=g) < SCHEDULED_RATE
            swap[:, 0] = False
            prev = torch.where(swap, previous_latents(model, own), prev)
        cond = run_state_model(model, prev, data, idx)
        t = torch.randint(0, 1000, (B * T,), generator=g)
        eps = torch.randn(x0.shape, generator=g).flatten(0, 1)
        a = ac[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0.flatten(0, 1) + (1 - a).sqrt() * eps
        pred = model.apply_model(xt, t, cond.flatten(0, 1))
        loss = (pred - x0.flatten(0, 1)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if step % 200 == 0 or step == total - 1:
            log(f'joint {step:5d}/{total} ({"scheduled" if scheduled else "teacher"})  x0 loss {loss.item():.4f}  '
                f'val x0 loss {val_loss(model, val, val_latents):.4f}')


@torch.no_grad()
def val_loss(model, val, val_latents, n=8):
    g = torch.Generator().manual_seed(123)
    idx = torch.arange(n)
    x0 = val_latents[idx]
    cond = run_state_model(model, previous_latents(model, x0), val, idx)
    B, T = x0.shape[:2]
    t = torch.randint(0, 1000, (B * T,), generator=g)
    eps = torch.randn(x0.shape, generator=g).flatten(0, 1)
    a = model.alphas_cumprod[t].view(-1, 1, 1, 1)
    pred = model.apply_model(a.sqrt() * x0.flatten(0, 1) + (1 - a).sqrt() * eps, t, cond.flatten(0, 1))
    return (pred - x0.flatten(0, 1)).pow(2).mean().item()


@torch.no_grad()
def sample_session(model, events_keys, noise, steps=EVAL_STEPS):
    """Autoregressive frames of one session, as the player makes them: uint8 [T, H, W, 3] and the latents."""
    x, y, left, right, keys = events_keys
    T = x.shape[0]
    prev, hidden, images = model.padding_latent(1), None, []
    for t in range(T):
        inp = {'image_features': prev, 'is_padding': torch.BoolTensor([t == 0]),
               'x': x[t].long().view(1, 1), 'y': y[t].long().view(1, 1),
               'is_leftclick': left[t].bool().view(1, 1), 'is_rightclick': right[t].bool().view(1, 1),
               'key_events': keys[t].long()}
        if hidden is not None:
            inp['hidden_states'] = hidden
        cond, hidden = model.temporal_encoder.forward_step(inp)
        latent, _ = ref.sample(model, cond, noise[t:t + 1], steps)
        decoded = model.decode_normalized(latent)
        images.append(((decoded.squeeze(0).clamp(-1, 1) + 1) * 127.5).permute(1, 2, 0).to(torch.uint8))
        prev = latent
    return torch.stack(images)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=os.path.join(ROOT, 'demo'))
    ap.add_argument('--data', default=os.path.join(ROOT, '.cache', 'demo-data'))
    ap.add_argument('--sessions', type=int, default=1600)
    ap.add_argument('--quick', action='store_true')
    args = ap.parse_args()
    torch.set_num_threads(int(os.environ.get('THREADS', '2')))
    torch.manual_seed(0)
    if args.quick:
        for k in STEPS:
            STEPS[k] = 3
        args.sessions = 16
        args.data += '-quick'
    os.makedirs(args.out, exist_ok=True)
    log = Log(os.path.join(args.out, 'train.log'))
    log(f'PyTorch {torch.__version__}, {torch.get_num_threads()} threads; steps {STEPS}, batch {BATCH}')
    data = dump(os.path.join(args.data, 'train'), args.sessions, 32, 1, log)
    val = dump(os.path.join(args.data, 'val'), 64, 32, 2, log)
    model = M.DemoNeuralOS(CONFIG)
    counts = {'ae': M.param_count(model.first_stage_model), 'state model': M.param_count(model.temporal_encoder),
              'unet': M.param_count(model.model.diffusion_model)}
    log('parameters: ' + ', '.join(f'{k} {v / 1e6:.2f} M' for k, v in counts.items()))

    t0 = time.time()
    train_ae(model, data, val, STEPS['ae'], log, seed=1)
    log(f'stage ae: {(time.time() - t0) / 60:.1f} min')
    latents = encode_all(model, data)
    mean = latents.mean(dim=(0, 1, 3, 4))
    std = latents.std(dim=(0, 1, 3, 4))
    CONFIG['latentStats'] = {'mean': [float(v) for v in mean], 'std': [float(v) for v in std]}
    model.set_stats(CONFIG['latentStats']['mean'], CONFIG['latentStats']['std'])
    norm = lambda z: (z - model.latent_mean.unsqueeze(1)) / model.latent_std.unsqueeze(1)  # noqa: E731
    latents, val_latents = norm(latents), norm(encode_all(model, val))
    log(f'latent stats: mean {[round(v, 3) for v in CONFIG["latentStats"]["mean"]]}, '
        f'std {[round(v, 3) for v in CONFIG["latentStats"]["std"]]}')

    t0 = time.time()
    train_joint(model, data, latents, val, val_latents, log, seed=2)
    log(f'stage joint: {(time.time() - t0) / 60:.1f} min')

    # what ships: f16 parameters; everything below measures that model
    M.round_to_f16(model)
    model.eval()
    weights = M.shipped_weights(model)
    M.write_safetensors(os.path.join(args.out, 'neuralos-demo.safetensors'), weights)
    with open(os.path.join(args.out, 'config.json'), 'w') as f:
        json.dump(CONFIG, f, indent=1)
    log(f'ae psnr (f16 weights, val): {ae_psnr(model.first_stage_model, val):.2f} dB')

    # sampled, autoregressive: a few validation sessions (the full evaluation runs in polygrad: evaluate.ts)
    g = torch.Generator().manual_seed(7)
    ps = []
    for n in range(2 if args.quick else 6):
        ev = tuple(val[k][n] for k in ('x', 'y', 'left', 'right', 'keys'))
        noise = torch.randn(ev[0].shape[0], CONFIG['latentChannels'], 6, 8, generator=g)
        ps.append(psnr(sample_session(model, ev, noise), val['frames'][n]))
    log(f'sampled psnr over {len(ps)} validation sessions ({EVAL_STEPS} DDIM steps): {np.mean(ps):.2f} dB')

    # the parity fixture: the scripted session (dump.js --scripted) sampled from fixed noise
    sc = dump(os.path.join(args.data, 'scripted'), 1, 0, 0, log, scripted=True)
    ev = tuple(sc[k][0] for k in ('x', 'y', 'left', 'right', 'keys'))
    noise = torch.randn(ev[0].shape[0], CONFIG['latentChannels'], 6, 8, generator=torch.Generator().manual_seed(11))
    images = sample_session(model, ev, noise)
    log(f'scripted session ({ev[0].shape[0]} frames): psnr {psnr(images, sc["frames"][0]):.2f} dB')
    fixture = os.path.join(ROOT, 'test', 'fixtures', 'demo')
    os.makedirs(fixture, exist_ok=True)
    M.write_safetensors(os.path.join(fixture, 'scripted.safetensors'), {
        'noise': noise, 'images': images.float(), 'x': ev[0].float(), 'y': ev[1].float(), 'left': ev[2].float()})
    log('done')


if __name__ == '__main__':
    main()
