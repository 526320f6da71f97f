// Seeded random tensors from a counter-based hash computed as tensor ops (u32 multiply, xor, shift),
// so every backend produces the same stream: value i of a call is hash(seed, offset + i).

import * as ir from '../codegen/alu.js';
import { isFloat } from '../codegen/dtype.js';
import * as nodes from './nodes.js';
import { checkShape, intRange, show } from './shape.js';
import { Tensor, type TensorOptions, arange, variable } from './tensor.js';

let globalSeed = 0x5eed,
  globalOffset = 0;

/** Sets the seed of the global stream and restarts it. */
export function manualSeed(seed: number): void {
  globalSeed = checkSeed('manualSeed', seed);
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

/** A number seed: an integer in [0, 2^32) (a u32; -1 or 1.5 would otherwise wrap or truncate silently). */
function checkSeed(op: string, seed: unknown): number {
  if (!Number.isInteger(seed) || (seed as number) < 0 || (seed as number) >= 2 ** 32)
    throw new Error(`${op}: seed must be an integer in [0, 2^32) or a 0-d i32/u32 tensor, got ${show(seed)}`);
  return seed as number;
}

/**
 * u32 random bits for `count` consecutive counters. The key and offset are variables, never constants: calls
 * with other seeds share one schedule and one set of kernels.
 */
function bits(op: string, count: number, opts: RandomOptions, stream: number): Tensor {
  if (opts.seed !== undefined && !(opts.seed instanceof Tensor)) checkSeed(op, opts.seed);
  const device = opts.device,
    u32 = { dtype: 'u32', device } as const;
  const [seed, offset] = opts.seed === undefined ? [globalSeed, globalOffset] : [opts.seed, 0];
  if (opts.seed === undefined && stream === 0) globalOffset += count;
  const salt = fmixHost(stream + 0x9e3779b9);
  const key =
    typeof seed === 'number' ? variable(fmixHost(seed ^ salt) >>> 0, u32) : fmix(seedTensor(op, seed).bitwiseXor(salt));
  let counter = arange(0, count, 1, u32);
  if (opts.seed === undefined) counter = counter.add(variable(offset >>> 0, u32));
  return fmix(fmix(counter.bitwiseXor(key)).add(key));
}

function seedTensor(op: string, seed: Tensor): Tensor {
  if (seed.ndim !== 0 || (seed.dtype !== 'i32' && seed.dtype !== 'u32'))
    throw new Error(
      `${op}: a tensor seed must be a 0-d i32 or u32 tensor (a variable), got ${seed.dtype} [${seed.shape}]`,
    );
  return seed.cast('u32');
}

/** Uniform floats in [0, 1) with 24 random bits each. */
const unit = (b: Tensor): Tensor =>
  shr(b, 8)
    .cast('f32')
    .mul(2 ** -24);
const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** rand and randn make floats only, as PyTorch (an i32 rand would be all zeros). */
function floatDType(op: string, opts: RandomOptions): void {
  if (opts.dtype !== undefined && !isFloat(opts.dtype))
    throw new Error(`${op}: dtype must be a float dtype (f32, f16 or bf16), got ${show(opts.dtype)}`);
}

export function rand(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'rand');
  floatDType('rand', opts);
  const u = unit(bits('rand', numel(shape), opts, 0)).reshape(shape);
  return u.cast(opts.dtype ?? 'f32');
}

export function randn(shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'randn');
  floatDType('randn', opts);
  const n = numel(shape);
  // Box-Muller; u1 in (0, 1] so the log is finite
  const u1 = unit(bits('randn', n, opts, 0)).add(2 ** -24),
    u2 = unit(bits('randn', n, opts, 1));
  const z = u1
    .log()
    .mul(-2)
    .sqrt()
    .mul(u2.mul(2 * Math.PI).cos());
  return z.reshape(shape).cast(opts.dtype ?? 'f32');
}

/**
 * Integers in [low, high). A range of up to 2^24 scales 24 random bits (exact in f32); a wider one takes the u32 bits
 * modulo the range, as PyTorch, in wrapping u32 arithmetic so that no intermediate overflows the dtype.
 */
export function randint(low: number, high: number, shape: readonly number[], opts: RandomOptions = {}): Tensor {
  checkShape(shape, 'randint');
  const dtype = opts.dtype ?? 'i32',
    int = dtype === 'u32' ? 'u32' : 'i32', // the integer type the values are made in (then cast to a float dtype)
    [lo, hi] = intRange(int);
  if (!Number.isInteger(low) || !Number.isInteger(high))
    throw new Error(`randint: low and high must be integers, got ${show(low)} and ${show(high)}`);
  if (!(high > low)) throw new Error(`randint: high (${high}) must be greater than low (${low})`);
  if (low < lo || high - 1 > hi)
    throw new Error(`randint: low and high - 1 must fit in ${int} [${lo}, ${hi}], got ${low} and ${high - 1}`);
  const range = high - low,
    b = bits('randint', numel(shape), opts, 0);
  const r =
    range <= 2 ** 24
      ? unit(b).mul(range).floor().cast(int).add(low)
      : (range < 2 ** 32 ? b.remainder(range) : b).add(low >>> 0).cast(int);
  return r.reshape(shape).cast(dtype);
}
