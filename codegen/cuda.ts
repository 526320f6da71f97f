// The CUDA C language table: extern "C" __global__ kernels over raw pointers, half from cuda_fp16.h, bf16 from
// cuda_bf16.h (computed in float: its operators need sm_80), inf/NaN from __int_as_float, one thread per output
// element over a 1-D (folded 2-D) grid.
import type { TensorCore } from '../backends/backend.js';
import type { DType } from './dtype.js';
import type { Kernel } from './kernel.js';
import { type CStyle, cLanguage, gridCoord, prologue } from './cstyle.js';
import { checkCode, statusName } from './checks.js';
import { m16n8k16, mmaSyncDeclare, mmaSyncHelpers, mmaSyncStep, mmaSyncStore } from './mmasync.js';
import { type MatrixOps, type Uses, bufName } from './render.js';
import { type MmaArg, pieces, unitFor } from './tensorcore.js';

const types: Record<DType, string> = {
  f32: 'float',
  f16: 'half',
  bf16: '__nv_bfloat16',
  i32: 'int',
  u32: 'unsigned int',
  bool: 'bool',
};
const bits: Record<string, string> = { inf: '0x7f800000', '-inf': '0xff800000', nan: '0x7fc00000' };

function literal(v: number | boolean, d: DType): string {
  if (d === 'bool') return v ? 'true' : 'false';
  const n = Number(v);
  if (d === 'i32') return n === -2147483648 ? '(-2147483647 - 1)' : String(n);
  if (d === 'u32') return `${n}u`;
  const f = Number.isFinite(n)
    ? `${Object.is(n, -0) ? '-0.0' : String(n)}f`.replace(/^(-?\d+)f$/, '$1.0f')
    : `__int_as_float(${bits[Number.isNaN(n) ? 'nan' : n > 0 ? 'inf' : '-inf']})`;
  return d === 'f16' ? `__float2half(${f})` : d === 'bf16' ? `__float2bfloat16(${f})` : f;
}

/** A conversion: bf16 converts only from and to float, so other types go through it. */
function cast(a: string, to: DType, from: DType): string {
  if (to === 'bf16') return `__float2bfloat16(${from === 'f32' ? a : `(float)(${a})`})`;
  if (from === 'bf16') return to === 'f32' ? `__bfloat162float(${a})` : `((${types[to]})(__bfloat162float(${a})))`;
  return `((${types[to]})(${a}))`;
}

const floatFns = {
  SQRT: 'sqrtf',
  EXP: 'expf',
  LOG: 'logf',
  EXP2: 'exp2f',
  LOG2: 'log2f',
  SIN: 'sinf',
  COS: 'cosf',
  TRUNC: 'truncf',
  RECIP: '',
} as const;
const halfFns = {
  SQRT: 'hsqrt',
  EXP: 'hexp',
  LOG: 'hlog',
  EXP2: 'hexp2',
  LOG2: 'hlog2',
  SIN: 'hsin',
  COS: 'hcos',
  TRUNC: 'htrunc',
  RECIP: '',
} as const;

function bitcast(a: string, to: DType, from: DType): string {
  if (from === 'f32') return to === 'i32' ? `__float_as_int(${a})` : `__float_as_uint(${a})`;
  if (to === 'f32') return from === 'i32' ? `__int_as_float(${a})` : `__uint_as_float(${a})`;
  return `((${types[to]})(${a}))`;
}

const cuda: Omit<CStyle, 'shared' | 'kernel'> = {
  name: 'cuda',
  type: (d) => types[d],
  literal,
  fn: (op, a, d) => `${(d === 'f16' ? halfFns : floatFns)[op]}(${a})`,
  select: (c, t, f) => `(${c} ? ${t} : ${f})`,
  cast,
  bitcast,
  shift: (b) => b,
  compare: (op, a, b) => `(${a} ${op === 'CMPLT' ? '<' : '!='} ${b})`,
  // fmaxf returns the other operand when one is NaN; PyTorch's max propagates it
  max: (a, b, d) =>
    d === 'f16'
      ? `__hmax_nan(${a}, ${b})`
      : d === 'f32'
        ? `((${a} != ${a} || ${b} != ${b}) ? (${a} + ${b}) : fmaxf(${a}, ${b}))`
        : `max(${a}, ${b})`,
  fmod: (a, b, d) =>
    d === 'f16' ? `__float2half(fmodf(__half2float(${a}), __half2float(${b})))` : `fmodf(${a}, ${b})`,
  load: (buf, idx, d, gate) => (gate ? `(${gate} ? ${buf}[${idx}] : ${literal(0, d)})` : `${buf}[${idx}]`),
  store: (buf, idx, value) => `${buf}[${idx}] = ${value};`,
  declare: (name, d, e, mutable) => `${mutable ? '' : 'const '}${types[d]} ${name} = ${e};`,
  loop: (name, n, start = '0', step = 1) => `for (int ${name} = ${start}; ${name} < ${n}; ${name} += ${step}) {`,
  globalIndex: (name, range, k) => `const int ${name} = ${gridCoord(k, range.range.id)};`,
  checked: (v, lo, hi, msg) => `check_index(${v}, ${lo}, ${hi}, ${checkCode(msg, lo, hi)}u, ${statusName})`,
  variable: (i, d) => (d === 'bool' ? `(pg_v${i} != 0u)` : `pg_v${i}`),
  barrier: '__syncthreads();',
  // cuMemAlloc'd buffers are 256-byte aligned, so 4 elements from a multiple of 4 are one 16-byte load
  vector: {
    dtypes: new Set(['f32', 'i32', 'u32']),
    declare: (name, buf, i, d) => {
      const v = `${d === 'f32' ? 'float' : d === 'i32' ? 'int' : 'uint'}4`;
      return `const ${v} ${name} = reinterpret_cast<const ${v} *>(${buf})[${i}];`;
    },
    lane: (v, i) => `${v}.${'xyzw'[i]}`,
  },
  bf16: { widen: (a) => `__bfloat162float(${a})`, narrow: (a) => `__float2bfloat16(${a})` },
};

function cudaKernel(
  k: Kernel,
  body: readonly string[],
  shared: readonly string[],
  uses: Uses,
  block: number,
  cores: readonly TensorCore[],
): string {
  const params = k.params.map((p, i) => `${p.write ? '' : 'const '}${types[p.dtype]}* __restrict__ ${bufName(i)}`);
  // variables by value after the buffers (bools as a 32-bit word, as every backend passes them)
  params.push(...(k.vars ?? []).map((d, i) => `const ${d === 'bool' ? 'unsigned int' : types[d]} pg_v${i}`));
  if (uses.checks) params.push(`unsigned int* __restrict__ ${statusName}`);
  return [
    ...(uses.f16 ? ['#include <cuda_fp16.h>'] : []),
    ...(uses.bf16 ? ['#include <cuda_bf16.h>'] : []),
    ...(uses.matrix ? ['#include <mma.h>', ...mmaSyncHelpers(cores)] : []),
    ...(uses.checks ? checkIndex : []),
    `extern "C" __global__ void __launch_bounds__(${block}) ${k.name}(${params.join(', ')}) {`,
    ...shared.map((d) => `  ${d}`),
    ...prologue(cuda, k, '(int)(blockIdx.y * gridDim.x + blockIdx.x)', '(int)threadIdx.x', block),
    ...body,
    '}',
  ].join('\n');
}

/** A failed index check records (code, value) in the status word the host reads back, then clamps. */
const checkIndex = [
  '#ifndef PG_CHECK_INDEX', // sources may be compiled together (one module per program today, many in tests)
  '#define PG_CHECK_INDEX',
  '__device__ __forceinline__ int check_index(int v, int lo, int hi, unsigned int code, unsigned int* status) {',
  '  if ((v < lo || v > hi) && atomicMax(&status[0], code) == 0u) atomicExch(&status[1], (unsigned int)v);',
  '  return min(max(v, lo), hi);',
  '}',
  '#endif',
];

/**
 * The tensor cores of compute capability major.minor, for the 16-bit float inputs polygrad has: WMMA's 16×16×16 from
 * Volta (7.0) and PTX mma.sync's m16n8k16 from Ampere (8.0) in f16, both in bf16 from Ampere; all accumulate in f32.
 */
export function cudaTensorCores(major: number, minor: number): TensorCore[] {
  const cc = major * 10 + minor;
  const inputs: readonly DType[] = cc >= 80 ? ['f16', 'bf16'] : ['f16'];
  const units = [
    { api: 'wmma', m: 16, n: 16, k: 16, since: 70 },
    { api: 'mma.sync', m: 16, n: 8, k: 16, since: 80, layout: m16n8k16 },
  ] as const;
  return units
    .filter((u) => cc >= u.since)
    .flatMap(({ since: _, ...u }) => inputs.map((input) => ({ ...u, input, acc: 'f32' as const })));
}

const wmma = 'nvcuda::wmma::';

/**
 * TC's matrix operations for the tensor cores listed. A tile is multiplied in pieces of the unit's shape (coreFor):
 * through WMMA, fragments loaded from the staged chunks (A column-major, B row-major: codegen/tensorcore.ts); through
 * mma.sync, registers loaded by ldmatrix as the unit's layout data says (codegen/mmasync.ts).
 */
function matrixFor(cores: readonly TensorCore[]): MatrixOps {
  const core = (s: MmaArg, input: DType): TensorCore => unitFor(cores, s, input, 'cuda');
  const shape = (t: TensorCore): string => `${t.m}, ${t.n}, ${t.k}`;
  return {
    // broadcast from lane 0, so the compiler knows the warp index is warp-uniform: with a plain threadIdx.x / 32
    // ptxas treats the branch around the MMA as divergent and spills the fragments
    runs: (w) => `__shfl_sync(0xffffffffu, (int)threadIdx.x / 32, 0) == ${w}`,
    declare: (acc, s, d, input) => {
      const t = core(s, input);
      if (t.api === 'mma.sync') return mmaSyncDeclare(acc, s, t);
      const frag = `${wmma}fragment<${wmma}accumulator, ${shape(t)}, ${types[d]}>`;
      return `${frag} ${acc}[${pieces(s, t).length}]; ${pieces(s, t)
        .map((_, p) => `${wmma}fill_fragment(${acc}[${p}], 0.0f);`)
        .join(' ')}`;
    },
    step: (acc, a, b, s, input) => {
      const t = core(s, input);
      if (t.api === 'wmma')
        return [
          `${wmma}fragment<${wmma}matrix_a, ${shape(t)}, ${types[input]}, ${wmma}col_major> fa;`,
          `${wmma}fragment<${wmma}matrix_b, ${shape(t)}, ${types[input]}, ${wmma}row_major> fb;`,
          ...pieces(s, t).map(
            ({ row, col }, p) =>
              `${wmma}load_matrix_sync(fa, ${a} + ${row}, ${s.lda}); ` +
              `${wmma}load_matrix_sync(fb, ${b} + ${col}, ${s.ldb}); ` +
              `${wmma}mma_sync(${acc}[${p}], fa, fb, ${acc}[${p}]);`,
          ),
        ].join(' ');
      return mmaSyncStep(acc, a, b, s, t);
    },
    store: (c, acc, s, input) => {
      const t = core(s, input);
      if (t.api === 'wmma')
        return pieces(s, t)
          .map(
            ({ row, col }, p) =>
              `${wmma}store_matrix_sync(${c} + ${row * s.n + col}, ${acc}[${p}], ${s.n}, ${wmma}mem_row_major);`,
          )
          .join(' ');
      return mmaSyncStore(c, acc, s, t);
    },
  };
}

/** The table for a block size (threads per block) and the tensor cores TC may use (from the device). */
export const cudaFor = (block: number, tensorCores: readonly TensorCore[] = []) =>
  cLanguage({
    ...cuda,
    shared: (name, d, size = block, align) =>
      `__shared__ ${align ? `__align__(${align}) ` : ''}${types[d]} ${name}[${size}];`,
    kernel: (k, body, shared, uses) => cudaKernel(k, body, shared, uses, block, tensorCores),
    matrix: matrixFor(tensorCores),
  });
/** The table for an H100 (sm_90): 256-thread blocks. */
export const cudaLanguage = cudaFor(256, cudaTensorCores(9, 0));
