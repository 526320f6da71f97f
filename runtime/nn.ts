// Neural-network ops composed from Tensor ops (PyTorch argument orders and semantics); each validates
// its shapes first so a mistake is reported here, not as a broadcast error deep inside.
import { isHalf, minValue } from '../codegen/dtype.js';
import type { UOp } from '../codegen/uop.js';
import { floatOf, promoteTypes } from './dtype.js';
import { composite } from './composite.js';
import * as nodes from './nodes.js';
import { broadcastShapes, checkInt, normAxis } from './shape.js';
import type { Tensor } from './tensor.js';

export interface Conv2dOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  groups?: number;
}
export interface PoolOptions {
  stride?: number | readonly [number, number];
  padding?: number | readonly [number, number];
  dilation?: number | readonly [number, number];
  countIncludePad?: boolean;
  /** Output sizes rounded up, as PyTorch's ceil_mode: a last window may hang past the (padded) input. */
  ceilMode?: boolean;
}
export interface InterpolateOptions {
  size?: readonly [number, number];
  scaleFactor?: number | readonly [number, number];
  mode?: 'nearest' | 'bilinear';
  alignCorners?: boolean;
}
export interface Conv1dOptions {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}
export interface AttentionOptions {
  attnMask?: Tensor;
  isCausal?: boolean;
  scale?: number;
}

/**
 * f16 and bf16 work runs in f32 and rounds once at the end: products are summed unrounded, statistics cannot overflow
 * (PyTorch's opmath).
 */
/** 0, 1, …, n - 1 (i32) on `like`'s device: a lazy index table, nothing uploaded. */
const indices = (like: Tensor, n: number): Tensor => like.make(nodes.arangeNode(n), 'arange');

export const opmath = (t: Tensor): Tensor => (isHalf(t.dtype) ? t.cast('f32') : t);
const fmt = (s: readonly number[]): string => `[${s.join(', ')}]`;
/** A size argument (kernel, stride, padding, dilation) as a pair of integers ≥ min, or a one-line error. */
function sizes(
  op: string,
  name: string,
  v: number | readonly [number, number] | undefined,
  def: number,
  min: number,
): [number, number] {
  const p = v === undefined ? [def, def] : typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? v : [];
  if (p.length !== 2 || !p.every((x) => Number.isInteger(x) && x >= min))
    throw new Error(`${op}: ${name} must be an integer ≥ ${min} or a pair of them, got ${JSON.stringify(v)}`);
  return p as [number, number];
}
/** A scale factor or output size as a pair of finite positive numbers (integers for a size), or a one-line error. */
function positives(op: string, name: string, v: unknown, integer: boolean): [number, number] {
  const p = typeof v === 'number' ? [v, v] : Array.isArray(v) && v.length === 2 ? [v[0], v[1]] : [NaN, NaN];
  if (!p.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0 && (!integer || Number.isInteger(x))))
    throw new Error(
      `${op}: ${name} must be a ${integer ? 'positive integer' : 'finite number above 0'} or a pair of them, got ` +
        `${JSON.stringify(v)}`,
    );
  return p as [number, number];
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.ndim === 0 || b.ndim === 0)
    throw new Error(`matmul: both arguments need at least 1 dim, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const x = opmath(a.ndim === 1 ? a.unsqueeze(0) : a),
    y = opmath(b.ndim === 1 ? b.unsqueeze(1) : b);
  const k = x.shape[x.ndim - 1]!;
  if (y.shape[y.ndim - 2] !== k)
    throw new Error(`matmul: inner dims differ: ${fmt(a.shape)} @ ${fmt(b.shape)} (${k} vs ${y.shape[y.ndim - 2]})`);
  broadcastShapes('matmul: batch dims', x.shape.slice(0, -2), y.shape.slice(0, -2));
  // [..., n, 1, k] * [..., 1, m, k] summed over k: the reduce runs along rows of both operands
  const prod = x.unsqueeze(-2).mul(y.transpose(-1, -2).unsqueeze(-3));
  let out = prod.sum(-1);
  if (a.ndim === 1) out = out.squeeze(-2);
  if (b.ndim === 1) out = out.squeeze(-1);
  return composite('matmul', { a, b }, out.cast(promoteTypes(a.dtype, b.dtype)).named('matmul', a, b));
}

export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (weight.ndim !== 2 || weight.shape[1] !== x.shape[x.ndim - 1]) {
    throw new Error(
      `linear: weight ${fmt(weight.shape)} does not match input ${fmt(x.shape)} (expected [out, ` +
        `${x.shape[x.ndim - 1]}])`,
    );
  }
  const y = x.matmul(weight.T);
  if (bias && (bias.ndim > 1 || (bias.ndim === 1 && bias.shape[0] !== weight.shape[0] && bias.shape[0] !== 1)))
    throw new Error(
      `linear: bias ${fmt(bias.shape)} does not match ${weight.shape[0]} outputs (expected [${weight.shape[0]}])`,
    );
  return bias ? y.add(bias) : y;
}

/** [N, C, H, W] -> [N, C, OH, OW, kh, kw] windows (padding already applied). */
function windows(
  x: Tensor,
  k: [number, number],
  stride: [number, number],
  dilation: [number, number],
  op: string,
): Tensor {
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  const out = [0, 1].map((i) => Math.floor(([H, W][i]! - dilation[i]! * (k[i]! - 1) - 1) / stride[i]!) + 1);
  if (out.some((o) => o < 1))
    throw new Error(
      `${op}: kernel ${fmt(k)} with dilation ${fmt(dilation)} is larger than the padded input ${fmt([H, W])}`,
    );
  return x.make(nodes.window(x.node(op), { kernel: k, stride, dilation }, out), op);
}

export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Conv2dOptions): Tensor {
  const groups = opts.groups ?? 1;
  checkInt('conv2d', 'groups', groups, 1);
  const [stride, padding, dilation] = [
    sizes('conv2d', 'stride', opts.stride, 1, 1),
    sizes('conv2d', 'padding', opts.padding, 0, 0),
    sizes('conv2d', 'dilation', opts.dilation, 1, 1),
  ];
  if (x.ndim !== 4 || w.ndim !== 4)
    throw new Error(
      `conv2d: expected input [N, C, H, W] and weight [Cout, Cin/groups, kh, kw], got ${fmt(x.shape)} and ` +
        `${fmt(w.shape)}`,
    );
  const [N, C] = x.shape as [number, number],
    [Co, Cg, kh, kw] = w.shape as [number, number, number, number];
  if (C % groups || Co % groups)
    throw new Error(`conv2d: channels ${C} in and ${Co} out must both divide by groups=${groups}`);
  if (Cg * groups !== C)
    throw new Error(
      `conv2d: weight has ${Cg} input channels per group but input has ${C / groups} (input ${fmt(x.shape)}, weight ` +
        `${fmt(w.shape)}, groups ${groups})`,
    );
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== Co))
    throw new Error(`conv2d: bias ${fmt(bias.shape)} does not match ${Co} output channels`);
  const [ph, pw] = padding;
  const win = windows(x.pad([pw, pw, ph, ph]), [kh, kw], stride, dilation, 'conv2d');
  const [OH, OW] = [win.shape[2]!, win.shape[3]!];
  const xs = win.reshape([N, groups, 1, Cg, OH, OW, kh, kw]);
  const ws = w.reshape([1, groups, Co / groups, Cg, 1, 1, kh, kw]);
  let y = opmath(xs).mul(opmath(ws)).sum([3, 6, 7]).reshape([N, Co, OH, OW]);
  if (bias) y = y.add(opmath(bias).reshape([1, Co, 1, 1]));
  y = y.cast(promoteTypes(x.dtype, w.dtype));
  return composite('conv2d', { x, w, bias, stride, padding, dilation, groups }, y.named('conv2d', x, w, bias));
}

/** [N, C, L] with weight [Cout, Cin/groups, k]: conv2d over a height of 1. */
export function conv1d(x: Tensor, w: Tensor, bias: Tensor | undefined, opts: Conv1dOptions): Tensor {
  if (x.ndim !== 3 || w.ndim !== 3)
    throw new Error(
      `conv1d: expected input [N, C, L] and weight [Cout, Cin/groups, k], got ${fmt(x.shape)} and ${fmt(w.shape)}`,
    );
  const one = (name: string, v: number | undefined, def: number, min: number): number =>
    sizes('conv1d', name, v === undefined || typeof v === 'number' ? v : [NaN, NaN], def, min)[0];
  const o = {
    stride: [1, one('stride', opts.stride, 1, 1)],
    padding: [0, one('padding', opts.padding, 0, 0)],
    dilation: [1, one('dilation', opts.dilation, 1, 1)],
    groups: opts.groups,
  } as const;
  return x.unsqueeze(2).conv2d(w.unsqueeze(2), bias, o).squeeze(2).named('conv1d', x, w, bias);
}

/** Inference batch norm over dim 1 with running statistics (PyTorch's eval mode). */
export function batchNorm(
  x: Tensor,
  mean: Tensor,
  variance: Tensor,
  w: Tensor | undefined,
  b: Tensor | undefined,
  eps: number,
): Tensor {
  if (x.ndim < 2) throw new Error(`batchNorm: expected [N, C, ...], got ${fmt(x.shape)}`);
  const C = x.shape[1]!,
    cshape = [1, C, ...new Array(x.ndim - 2).fill(1)];
  for (const [t, name] of [
    [mean, 'running mean'],
    [variance, 'running var'],
    [w, 'weight'],
    [b, 'bias'],
  ] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== C))
      throw new Error(`batchNorm: ${name} ${fmt(t.shape)} must have shape [${C}]`);
  }
  let y = opmath(x).sub(opmath(mean).reshape(cshape)).mul(opmath(variance).reshape(cshape).add(eps).rsqrt());
  if (w) y = y.mul(opmath(w).reshape(cshape));
  if (b) y = y.add(opmath(b).reshape(cshape));
  return y.cast(floatOf(x.dtype)).named('batchNorm', x, mean, variance, w, b);
}

/** The entries of x at `index` (1-D, integer) along dim, as torch.index_select. */
export function indexSelect(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normAxis('indexSelect', dim, x.ndim);
  if (index.ndim === 0) index = index.reshape([1]);
  if (index.ndim !== 1) throw new Error(`indexSelect: index must be 1-D, got ${fmt(index.shape)}`);
  const shape = x.shape.map((n, i) => (i === d ? index.shape[0]! : n));
  const idx = index.reshape(x.shape.map((_, i) => (i === d ? index.shape[0]! : 1))).expand(shape);
  return x.gather(d, idx).named('indexSelect', x, index);
}

/**
 * The extra padding after the end of a padded length L that ceil mode's last window needs: PyTorch's output size
 * ceil((L - span) / s) + 1, less one where that window would start past the input and its left padding.
 */
function ceilExtra(L: number, input: number, pad: number, span: number, s: number): number {
  if (L < span) return 0; // windows() says the kernel is too large
  let out = Math.ceil((L - span) / s) + 1;
  if ((out - 1) * s >= input + pad) out--;
  return Math.max(0, (out - 1) * s + span - L);
}

function pool(
  x: Tensor,
  kernel: number | readonly [number, number],
  opts: PoolOptions,
  op: string,
): { win: Tensor; args: Parameters<typeof windows>; pads: [number, number, number, number] } {
  if (x.ndim !== 4) throw new Error(`${op}: expected [N, C, H, W], got ${fmt(x.shape)}`);
  const k = sizes(op, 'kernel', kernel, 1, 1),
    [ph, pw] = sizes(op, 'padding', opts.padding, 0, 0),
    stride = sizes(op, 'stride', opts.stride ?? kernel, 1, 1),
    dilation = sizes(op, 'dilation', opts.dilation, 1, 1);
  if (ph > k[0] / 2 || pw > k[1] / 2)
    throw new Error(`${op}: padding ${fmt([ph, pw])} must be at most half the kernel ${fmt(k)}`);
  const [eh, ew] = [0, 1].map((i) => {
    const input = x.shape[2 + i]!,
      pad = [ph, pw][i]!;
    return opts.ceilMode ? ceilExtra(input + 2 * pad, input, pad, dilation[i]! * (k[i]! - 1) + 1, stride[i]!) : 0;
  }) as [number, number];
  const pads: [number, number, number, number] = [pw, pw + ew, ph, ph + eh];
  const padded = x.pad(pads, op === 'maxPool2d' ? Number(minValue(x.dtype)) : 0);
  const args: Parameters<typeof windows> = [padded, k, stride, dilation, op];
  return { win: windows(...args), args, pads };
}

export function avgPool2d(x: Tensor, kernel: number | readonly [number, number], opts: PoolOptions): Tensor {
  const { win, args, pads } = pool(x, kernel, opts, 'avgPool2d');
  const [pw, pwEnd, ph, phEnd] = pads,
    [H, W] = [x.shape[2]!, x.shape[3]!],
    k = args[1];
  const s = opmath(win).sum([4, 5]); // an f16 window sum would overflow before the division
  const excludePad = opts.countIncludePad === false && (ph || pw);
  if (excludePad || phEnd > ph || pwEnd > pw) {
    // each window's divisor: the input it covers, with the padding unless excluded, never ceil mode's overhang
    const counted = excludePad ? [H, W] : [H + 2 * ph, W + 2 * pw],
      around = excludePad ? [pw, pwEnd, ph, phEnd] : [0, pwEnd - pw, 0, phEnd - ph];
    const ones = x.make(nodes.konst(1, 'f32', [1, 1, counted[0]!, counted[1]!]), 'avgPool2d');
    const count = windows(ones.pad(around), k, args[2], args[3], 'avgPool2d').sum([4, 5]);
    return s.div(count).cast(floatOf(x.dtype));
  }
  return s.div(k[0] * k[1]).cast(floatOf(x.dtype));
}

export function maxPool2d(x: Tensor, kernel: number | readonly [number, number], opts: PoolOptions): Tensor {
  return pool(x, kernel, opts, 'maxPool2d').win.max([4, 5]);
}

export function interpolate(x: Tensor, opts: InterpolateOptions): Tensor {
  if (x.ndim !== 4) throw new Error(`interpolate: expected [N, C, H, W], got ${fmt(x.shape)}`);
  const mode = opts.mode ?? 'nearest';
  if (mode !== 'nearest' && mode !== 'bilinear')
    throw new Error(`interpolate: mode ${opts.mode} is not supported (nearest or bilinear)`);
  if (opts.alignCorners !== undefined && mode === 'nearest')
    throw new Error('interpolate: alignCorners only applies to bilinear');
  const [H, W] = [x.shape[2]!, x.shape[3]!];
  let size: [number, number], scale: [number, number];
  if (opts.size) {
    size = positives('interpolate', 'size', opts.size, true);
    scale = [H / size[0], W / size[1]];
  } else if (opts.scaleFactor !== undefined) {
    const sf = positives('interpolate', 'scaleFactor', opts.scaleFactor, false);
    size = [Math.floor(H * sf[0]), Math.floor(W * sf[1])];
    scale = [1 / sf[0], 1 / sf[1]];
  } else throw new Error('interpolate: give size or scaleFactor');
  if (size[0] < 1 || size[1] < 1) throw new Error(`interpolate: output size ${fmt(size)} must be positive`);
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  // index tables are lazy aranges (no upload, nothing to free), computed in f32 as PyTorch does
  const rowsOf = (idx: Tensor) => x.gather(2, idx.reshape([1, 1, size[0], 1]).expand([N, C, size[0], W]));
  const colsOf = (y: Tensor, idx: Tensor) =>
    y.gather(3, idx.reshape([1, 1, 1, size[1]]).expand([N, C, size[0], size[1]]));
  if (mode === 'bilinear') {
    const [h0, h1, hl] = bilinearTaps(x, size[0], H, scale[0], opts),
      [w0, w1, wl] = bilinearTaps(x, size[1], W, scale[1], opts);
    const mix = (a: Tensor, b: Tensor, l: Tensor) => a.mul(l.neg().add(1)).add(b.mul(l));
    const byRow = mix(rowsOf(h0), rowsOf(h1), hl.reshape([size[0], 1]));
    return mix(colsOf(byRow, w0), colsOf(byRow, w1), wl).named('interpolate', x);
  }
  if (size[0] % H === 0 && size[1] % W === 0 && scale[0] * size[0] === H && scale[1] * size[1] === W) {
    const [sh, sw] = [size[0] / H, size[1] / W];
    return x.reshape([N, C, H, 1, W, 1]).expand([N, C, H, sh, W, sw]).reshape([N, C, size[0], size[1]]);
  }
  // PyTorch (CPU): an unchanged size copies and a doubled one takes i >> 1, whatever the scale; else
  // src = min(floor(dst * scale), in - 1) in float32
  const nearest = (out: number, inp: number, s: number): Tensor => {
    const i = indices(x, out);
    return out === inp
      ? i
      : out === 2 * inp
        ? i.floorDiv(2)
        : i
            .cast('f32')
            .mul(Math.fround(s))
            .floor()
            .cast('i32')
            .minimum(inp - 1);
  };
  return colsOf(rowsOf(nearest(size[0], H, scale[0])), nearest(size[1], W, scale[1])).named('interpolate', x);
}

/**
 * PyTorch's bilinear source taps along one axis (scale: input per output step): lower and upper index and the upper
 * one's weight.
 */
function bilinearTaps(
  x: Tensor,
  out: number,
  inp: number,
  scale: number,
  opts: InterpolateOptions,
): [Tensor, Tensor, Tensor] {
  const i = indices(x, out).cast('f32');
  const src = opts.alignCorners ? i.mul(out > 1 ? (inp - 1) / (out - 1) : 0) : i.add(0.5).mul(scale).sub(0.5).relu();
  const lo = src
      .floor()
      .cast('i32')
      .minimum(inp - 1),
    hi = lo.add(1).minimum(inp - 1);
  return [lo, hi, src.sub(lo)];
}

export function softmax(x: Tensor, dim: number): Tensor {
  const d = normAxis('softmax', dim, x.ndim);
  if (x.shape[d] === 0) return x.cast(floatOf(x.dtype));
  const x32 = opmath(x),
    e = x32.sub(x32.max(d, true)).exp();
  const y = e.div(e.sum(d, true)).cast(floatOf(x.dtype));
  return composite('softmax', { x, dim: d }, y.named('softmax', x));
}

export function logSoftmax(x: Tensor, dim: number): Tensor {
  const d = normAxis('logSoftmax', dim, x.ndim);
  if (x.shape[d] === 0) return x.cast(floatOf(x.dtype));
  const x32 = opmath(x),
    s = x32.sub(x32.max(d, true));
  const y = s.sub(s.exp().sum(d, true).log()).cast(floatOf(x.dtype));
  return y.named('logSoftmax', x);
}

export function layerNorm(
  x: Tensor,
  normalizedShape: number | readonly number[],
  w: Tensor | undefined,
  b: Tensor | undefined,
  eps: number,
): Tensor {
  const ns = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
  const tail = x.shape.slice(x.ndim - ns.length);
  if (ns.length > x.ndim || tail.some((n, i) => n !== ns[i]))
    throw new Error(`layerNorm: normalized shape ${fmt(ns)} does not match the end of input ${fmt(x.shape)}`);
  for (const [t, name] of [
    [w, 'weight'],
    [b, 'bias'],
  ] as const) {
    if (t && t.shape.join() !== ns.join())
      throw new Error(`layerNorm: ${name} ${fmt(t.shape)} must have shape ${fmt(ns)}`);
  }
  const axes = ns.map((_, i) => x.ndim - ns.length + i),
    x32 = opmath(x);
  const mean = x32.mean(axes, true);
  let y = x32.sub(mean).mul(x32.var(axes, { correction: 0, keepdim: true }).add(eps).rsqrt());
  if (w) y = y.mul(opmath(w));
  if (b) y = y.add(opmath(b));
  return composite(
    'layerNorm',
    { x, w, b, dims: ns.length, eps },
    y.cast(floatOf(x.dtype)).named('layerNorm', x, w, b),
  );
}

export function groupNorm(x: Tensor, G: number, w: Tensor | undefined, b: Tensor | undefined, eps: number): Tensor {
  if (x.ndim < 2) throw new Error(`groupNorm: expected [N, C, ...], got ${fmt(x.shape)}`);
  const [N, C] = [x.shape[0]!, x.shape[1]!];
  checkInt('groupNorm', 'groups', G, 1);
  if (C % G) throw new Error(`groupNorm: ${C} channels do not divide into ${G} groups`);
  for (const [t, name] of [
    [w, 'weight'],
    [b, 'bias'],
  ] as const) {
    if (t && (t.ndim !== 1 || t.shape[0] !== C))
      throw new Error(`groupNorm: ${name} ${fmt(t.shape)} must have shape [${C}]`);
  }
  const xg = opmath(x).reshape([N, G, -1]);
  let y = xg
    .sub(xg.mean(2, true))
    .mul(xg.var(2, { correction: 0, keepdim: true }).add(eps).rsqrt())
    .reshape(x.shape);
  const cshape = [1, C, ...new Array(x.ndim - 2).fill(1)];
  if (w) y = y.mul(opmath(w).reshape(cshape));
  if (b) y = y.add(opmath(b).reshape(cshape));
  return composite('groupNorm', { x, w, b, groups: G, eps }, y.cast(floatOf(x.dtype)).named('groupNorm', x, w, b));
}

export function gather(x: Tensor, dim: number, index: Tensor): Tensor {
  const d = normAxis('gather', dim, x.ndim);
  if (index.dtype !== 'i32' && index.dtype !== 'u32')
    throw new Error(`gather: index must be i32 or u32, got ${index.dtype}`);
  if (index.ndim !== x.ndim || index.shape.some((n, i) => i !== d && n > x.shape[i]!)) {
    throw new Error(`gather: index ${fmt(index.shape)} does not fit input ${fmt(x.shape)} outside dim ${d}`);
  }
  const node: UOp = nodes.gather(x.node('gather'), d, index.node('gather'));
  return x.make(node, 'gather');
}

export function embedding(indices: Tensor, weight: Tensor): Tensor {
  if (weight.ndim !== 2) throw new Error(`embedding: weight must be [num, dim], got ${fmt(weight.shape)}`);
  const D = weight.shape[1]!,
    flat = indices.reshape([indices.numel, 1]).expand([indices.numel, D]);
  const out = weight.gather(0, flat).reshape([...indices.shape, D]);
  return out.named('embedding', indices, weight);
}

export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const E = q.shape[q.ndim - 1]!,
    L = q.shape[q.ndim - 2]!,
    S = k.shape[k.ndim - 2]!;
  if (k.shape[k.ndim - 1] !== E || v.shape[v.ndim - 2] !== S) {
    throw new Error(
      `scaledDotProductAttention: q ${fmt(q.shape)}, k ${fmt(k.shape)} and v ${fmt(v.shape)} do not agree (need k ` +
        `[..., S, ${E}], v [..., S, Ev])`,
    );
  }
  let scores = q.matmul(k.transpose(-2, -1)).mul(opts.scale ?? 1 / Math.sqrt(E));
  if (opts.isCausal) {
    const i = indices(q, L).reshape([L, 1]),
      j = indices(q, S).reshape([1, S]);
    scores = j.le(i).where(scores, -Infinity);
  }
  const m = opts.attnMask;
  const fits = (n: number | undefined, want: number): boolean => n === undefined || n === 1 || n === want;
  if (m && !(fits(m.shape[m.ndim - 1], S) && fits(m.shape[m.ndim - 2], L)))
    throw new Error(`scaledDotProductAttention: attnMask ${fmt(m.shape)} does not broadcast to [..., ${L}, ${S}]`);
  if (m) scores = m.dtype === 'bool' ? m.where(scores, -Infinity) : scores.add(m);
  // a row the mask leaves nothing of attends to nothing: zeros, as PyTorch's safe softmax (2.5 on), not 0/0
  const probs = m ? scores.max(-1, true).eq(-Infinity).where(0, scores.softmax(-1)) : scores.softmax(-1);
  const out = probs.matmul(v).named('attention', q, k, v, opts.attnMask);
  return m
    ? out
    : composite('attention', { q, k, v, scale: opts.scale ?? 1 / Math.sqrt(E), causal: !!opts.isCausal }, out);
}
