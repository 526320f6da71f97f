// Seeded random tensors from a counter-based hash computed as tensor ops (u32 multiply, xor, shift),
// so every backend produces the same stream: value i of a call is hash(seed, offset + i).

import * as ir from '../codegen/alu.js';
import * as nodes from './nodes.js';
import { checkShape } from './shape.js';
import { type Tensor, type TensorOptions, arange, variable } from './tensor.js';

let globalSeed = 0x5eed,
  globalOffset = 0;

/** Sets the seed of the global stream and restarts it. */
export function manualSeed(seed: number): void {
  globalSeed = seed >>> 0;
  globalOffset = 0;
}

// murmur3's finalizer: a bijection on u32 with full avalanche
function fmix(x: Tensor): Tensor {
  x = x.bitwiseXor(shr(x, 16)).mul(0x85ebca6b);
  x = x.bitwiseXor(shr(x, 13)).mul(0xc2b2ae35);
  return x.bitwiseXor(shr(x, 16));
}
const shr = (x: Tensor, n: number): Tensor => x.make(ir.binary('SHR', x.node(), nodes.konst(n, 'u32', x.shape)), 'shr');
function fmixHost(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** A seed: a number, or a 0-d integer tensor (a variable, so a jitted function can take a new seed per call). */
export type Seed = number | Tensor;
export interface RandomOptions extends TensorOptions {
  readonly seed?: Seed;
}

/**
 * u32 random bits for `count` consecutive counters. The key and offset are variables, never constants: calls
 * with other seeds share one schedule and one set of kernels.
 */
function bits(count: number, opts: RandomOptions, stream: number): Tensor {
  const device = opts.device,
    u32 = { dtype: 'u32', device } as const;
  const [seed, offset] = opts.seed === undefined ? [globalSeed, globalOffset] : [opts.seed, 0];
  if (opts.seed === undefined && stream === 0) globalOffset += count;
  const salt = fmixHost(stream + 0x9e3779b9);
  const key =
    typeof seed === 'number'
      ? variable(fmixHost((seed >>> 0) ^ salt) >>> 0, u32)
      : fmix(seedTensor(seed).bitwiseXor(salt));
  let counter = arange(0, count, 1, u32);
  if (opts.seed === undefined) counter = counter.add(variable(offset >>> 0, u32));
  return fmix(fmix(counter.bitwiseXor(key)).add(key));
}

function seedTensor(seed: Tensor): Tensor {
  if (seed.ndim !== 0 || (seed.dtype !== 'i32' && seed.dtype !== 'u32'))
    throw new Error(
      `random: a tensor seed must be a 0-d i32 or u32 tensor (a variable), got ${seed.dtype}[${seed.shape}]`,
    );
  return seed.cast('u32');
}

/** Uniform floats in [0, 1) with 24 random bits each. */
const unit = (b: Tensor): Tensor =>
  shr(b, 8)
    .cast('f32')
    .mul(2 ** -24);
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'rand');
  const u = unit(bits(numel(shape), opts, 0)).reshape(shape);
  return u.cast(opts.dtype ?? 'f32');
}

export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'randn');
  const n = numel(shape);
  // Box-Muller; u1 in (0, 1] so the log is finite
  const u1 = unit(bits(n, opts, 0)).add(2 ** -24),
    u2 = unit(bits(n, opts, 1));
  const z = u1
    .log()
    .mul(-2)
    .sqrt()
    .mul(u2.mul(2 * Math.PI).cos());
  return z.reshape(shape).cast(opts.dtype ?? 'f32');
}

export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'randint');
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  const u = unit(bits(numel(shape), opts, 0));
  return u
    .mul(high - low)
    .floor()
    .cast('i32')
    .add(low)
    .reshape(shape)
    .cast(opts.dtype ?? 'i32');
}
