// Checking a contributed kernel: for each of its cases, seeded inputs go through the kernel (POLYGRAD_KERNELS=custom)
// and through the generated path (generated), and both are compared with a float64 reference computed here from the
// definition of the op. `polygrad kernels check` and the tests run this on every backend the kernel declares.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Tensor, getDevice, tensor } from '../index.js';
import { limitPresets, planCaps } from '../models/neuralos/plan.js';
import { plan } from '../runtime/plan.js';
import { kernelMode, onlyKernel, setKernelMode } from '../runtime/composite.js';
import { type CompositeOp, type KernelCase, type KernelDef, type KernelInput, inputOrder, targetOf } from './define.js';

/** Seeded values in [-1, 1) (mulberry32), the same on every backend. */
export function seeded(n: number, seed: number): Float64Array {
  let s = (seed * 0x9e3779b9) >>> 0;
  return Float64Array.from({ length: n }, () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return 2 * (((t ^ (t >>> 14)) >>> 0) / 4294967296) - 1;
  });
}

const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
/** A case's argument that is a number or a pair, as a pair (d where it is absent). */
const pair = (v: unknown, d: number): [number, number] =>
  typeof v === 'number' ? [v, v] : Array.isArray(v) ? [v[0], v[1]] : [d, d];
/** The dims a layerNorm case normalizes: as many as its weight has, else the last one. */
const normDims = (c: KernelCase): number => Number(c.args?.dims ?? (c.inputs[1] ?? c.inputs[2])?.length ?? 1);
const eps = (c: KernelCase): number => Number(c.args?.eps ?? 1e-5);

/** The op of a case on tensors, as a user calls it (undefined for an optional input the case leaves out). */
export function runOp(op: CompositeOp, xs: readonly (Tensor | undefined)[], c: KernelCase): Tensor {
  const a = c.args ?? {};
  switch (op) {
    case 'matmul':
      return xs[0]!.matmul(xs[1]!);
    case 'softmax':
      return xs[0]!.softmax(Number(a.dim ?? -1));
    case 'attention':
      return xs[0]!.scaledDotProductAttention(xs[1]!, xs[2]!, {
        scale: a.scale as number | undefined,
        isCausal: !!a.causal,
      });
    case 'conv2d':
      return xs[0]!.conv2d(xs[1]!, xs[2], {
        padding: pair(a.padding, 0),
        stride: pair(a.stride, 1),
        dilation: pair(a.dilation, 1),
        groups: Number(a.groups ?? 1),
      });
    case 'layerNorm':
      return xs[0]!.layerNorm(xs[0]!.shape.slice(-normDims(c)), xs[1], xs[2], eps(c));
    case 'groupNorm':
      return xs[0]!.groupNorm(Number(a.groups), xs[1], xs[2], eps(c));
    default:
      return op satisfies never;
  }
}

/** The float64 reference of the op on row-major inputs of these shapes. */
export function reference(
  op: CompositeOp,
  xs: readonly (Float64Array | undefined)[],
  shapes: readonly (readonly number[] | null)[],
  c: KernelCase,
): Float64Array {
  const a = c.args ?? {};
  switch (op) {
    case 'matmul': {
      const [sa, sb] = shapes as [number[], number[]];
      const [M, K] = sa.slice(-2) as [number, number],
        N = sb[sb.length - 1]!;
      const batch = Math.max(sa.length === 3 ? sa[0]! : 1, sb.length === 3 ? sb[0]! : 1),
        out = new Float64Array(batch * M * N);
      for (let z = 0; z < batch; z++)
        for (let i = 0; i < M; i++)
          for (let j = 0; j < N; j++) {
            let acc = 0;
            for (let k = 0; k < K; k++)
              acc +=
                xs[0]![(sa.length === 3 ? z * M * K : 0) + i * K + k]! *
                xs[1]![(sb.length === 3 ? z * K * N : 0) + k * N + j]!;
            out[(z * M + i) * N + j] = acc;
          }
      return out;
    }
    case 'softmax': {
      const s = shapes[0]!,
        d = (Number(a.dim ?? -1) + s.length) % s.length,
        n = s[d]!,
        inner = prod(s.slice(d + 1)),
        out = new Float64Array(prod(s));
      for (let o = 0; o < prod(s.slice(0, d)); o++)
        for (let i = 0; i < inner; i++) {
          const at = (j: number) => (o * n + j) * inner + i;
          let m = -Infinity,
            sum = 0;
          for (let j = 0; j < n; j++) m = Math.max(m, xs[0]![at(j)]!);
          for (let j = 0; j < n; j++) sum += Math.exp(xs[0]![at(j)]! - m);
          for (let j = 0; j < n; j++) out[at(j)] = Math.exp(xs[0]![at(j)]! - m) / sum;
        }
      return out;
    }
    case 'attention': {
      const [sq, , sv] = shapes as [number[], number[], number[]];
      const L = sq[sq.length - 2]!,
        E = sq[sq.length - 1]!,
        S = shapes[1]![shapes[1]!.length - 2]!,
        Ev = sv[sv.length - 1]!;
      const heads = prod(sq.slice(0, -2)),
        scale = (a.scale as number | undefined) ?? 1 / Math.sqrt(E),
        out = new Float64Array(heads * L * Ev);
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < L; i++) {
          const s = Float64Array.from({ length: S }, (_, j) => {
            if (a.causal && j > i) return -Infinity;
            let acc = 0;
            for (let e = 0; e < E; e++) acc += xs[0]![(h * L + i) * E + e]! * xs[1]![(h * S + j) * E + e]!;
            return acc * scale;
          });
          const m = Math.max(...s),
            w = Array.from(s, (v) => Math.exp(v - m)),
            sum = w.reduce((x, y) => x + y, 0);
          for (let e = 0; e < Ev; e++)
            out[(h * L + i) * Ev + e] = w.reduce((acc, wj, j) => acc + (wj / sum) * xs[2]![(h * S + j) * Ev + e]!, 0);
        }
      return out;
    }
    case 'conv2d': {
      const [sx, sw] = shapes as [number[], number[]];
      const [N, C, H, W] = sx as [number, number, number, number],
        [Co, Cg, kh, kw] = sw as [number, number, number, number];
      const [ph, pw] = pair(a.padding, 0),
        [sh, sw2] = pair(a.stride, 1),
        [dh, dw] = pair(a.dilation, 1),
        perGroup = Co / (C / Cg),
        OH = Math.floor((H + 2 * ph - dh * (kh - 1) - 1) / sh) + 1,
        OW = Math.floor((W + 2 * pw - dw * (kw - 1) - 1) / sw2) + 1;
      const out = new Float64Array(N * Co * OH * OW);
      for (let n = 0; n < N; n++)
        for (let o = 0; o < Co; o++)
          for (let y = 0; y < OH; y++)
            for (let x = 0; x < OW; x++) {
              let acc = xs[2] ? xs[2][o]! : 0;
              for (let c = 0; c < Cg; c++)
                for (let i = 0; i < kh; i++)
                  for (let j = 0; j < kw; j++) {
                    const yy = y * sh + i * dh - ph,
                      xx = x * sw2 + j * dw - pw,
                      ci = Math.floor(o / perGroup) * Cg + c;
                    if (yy >= 0 && yy < H && xx >= 0 && xx < W)
                      acc += xs[0]![((n * C + ci) * H + yy) * W + xx]! * xs[1]![((o * Cg + c) * kh + i) * kw + j]!;
                  }
              out[((n * Co + o) * OH + y) * OW + x] = acc;
            }
      return out;
    }
    case 'layerNorm':
    case 'groupNorm': {
      // rows of `inner` elements normalized together; element j of a row takes weight and bias `param(j)`
      const s = shapes[0]!,
        rest = prod(s.slice(2)),
        inner = op === 'layerNorm' ? prod(s.slice(-normDims(c))) : (s[1]! / Number(a.groups)) * rest,
        param = (row: number, j: number): number => (op === 'layerNorm' ? j : (((row * inner + j) / rest) % s[1]!) | 0),
        out = new Float64Array(prod(s));
      for (let r = 0; r < prod(s) / inner; r++) {
        const x = xs[0]!.subarray(r * inner, (r + 1) * inner),
          mean = x.reduce((p, v) => p + v, 0) / inner,
          variance = x.reduce((p, v) => p + (v - mean) ** 2, 0) / inner;
        for (let j = 0; j < inner; j++)
          out[r * inner + j] =
            ((x[j]! - mean) / Math.sqrt(variance + eps(c))) * (xs[1] ? xs[1][param(r, j)]! : 1) +
            (xs[2] ? xs[2][param(r, j)]! : 0);
      }
      return out;
    }
    default:
      return op satisfies never;
  }
}

export interface CaseResult {
  readonly case: string;
  /** Whether the kernel ran (its c_… kernel was scheduled), and each side's worst error against the reference. */
  readonly used: boolean;
  readonly kernelError: number;
  readonly generatedError: number;
  readonly tol: number;
}

/** Runs one case of a kernel on a device: the kernel's output and the generated one, each against float64. */
export async function checkCase(def: KernelDef, c: KernelCase, device: string): Promise<CaseResult> {
  const dtype = c.dtype ?? 'f32';
  const values = c.inputs.map((s, i) => {
    if (!s) return undefined;
    const v = seeded(prod(s), 17 * i + c.name.length);
    return dtype === 'f32' ? v : v.map((x) => Math.fround(x * 0.5));
  });
  // an input listed in `transposed` is built transposed and viewed back: the kernel reads it through strides
  const make = (v: Float64Array, s: readonly number[], i: number): Tensor => {
    if (!c.transposed?.includes(i)) return tensor(Float32Array.from(v), { shape: [...s], device, dtype });
    const [r, q] = s.slice(-2) as [number, number],
      t = new Float32Array(v.length);
    for (let b = 0; b < v.length / (r * q); b++)
      for (let x = 0; x < r; x++) for (let y = 0; y < q; y++) t[b * r * q + y * r + x] = v[b * r * q + x * q + y]!;
    return tensor(t, { shape: [...s.slice(0, -2), q, r], device, dtype }).transpose(-2, -1);
  };
  const was = kernelMode();
  try {
    const run = async (mode: 'custom' | 'generated') => {
      setKernelMode(mode);
      onlyKernel(mode === 'custom' ? def.name : undefined);
      const xs = values.map((v, i) => v && make(v, c.inputs[i]!, i));
      const y = runOp(def.op, xs, c);
      const used = plan(y).some((k) => k.name.startsWith(`c_${def.name}_`));
      const out = await y.data();
      for (const t of [...xs, y]) t?.dispose();
      return { used, out };
    };
    const custom = await run('custom'),
      generated = await run('generated');
    const want = reference(def.op, values, c.inputs, c);
    const err = (got: ArrayLike<number>) => {
      if (got.length !== want.length) return Infinity;
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        const e = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
        worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
      }
      return worst;
    };
    return {
      case: c.name,
      used: custom.used,
      kernelError: err(custom.out),
      generatedError: err(generated.out),
      tol: c.tol ?? 1e-4,
    };
  } finally {
    setKernelMode(was);
    onlyKernel(undefined);
  }
}

/** Whether a kernel declares the kind of device this one is (by the language it runs). */
export const runsOn = (def: KernelDef, device: string): boolean =>
  def.devices.some((d) => targetOf[d] === getDevice(device).language.name);

/** The arguments a case passes the kernel (contiguous inputs, or transposed views where the case says so). */
export function caseArgs(def: KernelDef, c: KernelCase): Record<string, unknown> {
  const dtype = c.dtype ?? 'f32',
    a = c.args ?? {};
  const inputs = c.inputs.map((s, i): KernelInput | undefined => {
    if (!s) return undefined;
    const strides = s.map((_, d) => prod(s.slice(d + 1)));
    if (c.transposed?.includes(i)) {
      const [r, q] = s.slice(-2) as [number, number],
        n = s.length;
      strides[n - 2] = 1;
      strides[n - 1] = r;
      void q;
    }
    return { shape: s, dtype, strides, offset: 0 };
  });
  const named = Object.fromEntries(inputOrder[def.op].map((k, i) => [k, inputs[i]]).filter(([, v]) => v));
  switch (def.op) {
    case 'matmul':
      return named;
    case 'softmax':
      return {
        ...named,
        dim: ((Number(a.dim ?? -1) % c.inputs[0]!.length) + c.inputs[0]!.length) % c.inputs[0]!.length,
      };
    case 'attention':
      return {
        ...named,
        scale: (a.scale as number | undefined) ?? 1 / Math.sqrt(c.inputs[0]!.at(-1)!),
        causal: !!a.causal,
      };
    case 'conv2d':
      return {
        ...named,
        stride: pair(a.stride, 1),
        padding: pair(a.padding, 0),
        dilation: pair(a.dilation, 1),
        groups: (a.groups as number) ?? 1,
      };
    case 'layerNorm':
      return { ...named, dims: normDims(c), eps: eps(c) };
    case 'groupNorm':
      return { ...named, groups: Number(a.groups), eps: eps(c) };
    default:
      return def.op satisfies never;
  }
}

/**
 * Compiles a kernel's CUDA source for each case with nvcc (sm_90 and an H100's caps by default) and reads ptxas's
 * report: the registers per thread and the bytes spilled to local memory. Throws with nvcc's log when a source does
 * not compile.
 */
export function compileCuda(
  def: KernelDef,
  arch = 'sm_90',
  caps = planCaps(limitPresets.cuda),
): { case: string; registers: number; spills: number }[] {
  const impl = def.impl;
  if (impl.kind !== 'source' || !impl.sources.cuda) return [];
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-kernels-'));
  return def.cases.map((c) => {
    const file = join(dir, `${def.name}.cu`);
    writeFileSync(file, impl.sources.cuda!(c.dtype ?? 'f32', caseArgs(def, c) as never, caps));
    return { case: c.name, ...ptxasReport(dir, def.name, file, arch) };
  });
}

/** ptxas -v's registers and spill stores for the kernel's entry (it reports on stderr). @internal */
export function ptxasReport(
  dir: string,
  name: string,
  file: string,
  arch: string,
): { registers: number; spills: number } {
  const r = spawnSync('nvcc', ['-cubin', `-arch=${arch}`, '-Xptxas', '-v', '-o', join(dir, `${name}.cubin`), file], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`${name}: nvcc failed:\n${r.stderr}`);
  const text = `${r.stdout}\n${r.stderr}`;
  const regs = /Used (\d+) registers/.exec(text),
    spill = /(\d+) bytes spill stores/.exec(text);
  return { registers: Number(regs?.[1] ?? NaN), spills: Number(spill?.[1] ?? 0) };
}
