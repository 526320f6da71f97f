// The WGSL language table (WebGPU). Bool buffers hold u32; bf16 (no WGSL type) lives in f32 and rounds wherever it
// is made; inf and NaN come from runtime bitcasts because WGSL rejects non-finite constant expressions; the launch
// grid folds into x/y past 65535.
import type { TensorCore } from '../backends/backend.js';
import type { DType } from './dtype.js';
import { f32ToF16 } from './dtype.js';
import type { Kernel } from './kernel.js';
import { type CStyle, cLanguage, gridCoord, prologue } from './cstyle.js';
import { checkCode, statusName } from './checks.js';
import { type MatrixOps, type Uses, bufName } from './render.js';
import { type MmaArg, pieces, unitFor } from './tensorcore.js';

/** A kernel's variables: 32-bit words in one uniform block of a per-launch slot (bind group 1, dynamic offset). */
export const varsName = 'pg_vars';
/** The most variables one kernel reads (a 256-byte block, WebGPU's minimum uniform offset alignment). */
export const maxVars = 64;

const types: Record<DType, string> = { f32: 'f32', f16: 'f16', bf16: 'f32', i32: 'i32', u32: 'u32', bool: 'bool' };
const f32 = (a: string, d: DType): string => (d === 'f16' ? `f32(${a})` : a);
const stored = (d: DType): string => (d === 'bool' ? 'u32' : types[d]);

function literal(v: number | boolean, d: DType): string {
  if (d === 'bool') return v ? 'true' : 'false';
  const n = Number(v);
  if (d === 'i32') return n === -2147483648 ? '(-2147483647i - 1i)' : `${n}i`;
  if (d === 'u32') return `${n}u`;
  if (!Number.isFinite(n) || (d === 'f16' && (f32ToF16(n) & 0x7c00) === 0x7c00)) {
    const v = Number.isNaN(n) ? 'nan_f32()' : n > 0 ? 'inf_f32()' : '(-inf_f32())';
    return d === 'f16' ? `f16(${v})` : v;
  }
  const s = Object.is(n, -0) ? '-0.0' : String(n);
  return `${s}${d === 'f16' ? 'h' : 'f'}`;
}

const wgsl: Omit<CStyle, 'shared' | 'kernel'> = {
  name: 'wgsl',
  type: (d) => types[d],
  literal,
  fn: (op, a) => `${op.toLowerCase()}(${a})`,
  select: (c, t, f) => `select(${f}, ${t}, ${c})`,
  cast: (a, to, from) =>
    to === 'bf16'
      ? `round_bf16(f32(${a}))`
      : to === 'f16' && (from === 'f32' || from === 'bf16')
        ? `f16(round_f16(${a}))`
        : `${types[to]}(${a})`,
  bitcast: (a, to) => `bitcast<${types[to]}>(${a})`,
  shift: (b) => `u32(${b})`,
  // compilers may assume no NaN (Mesa folds NaN == x to true): NaN operands are ruled on from the bits;
  // WGSL has no < on bool
  compare: (op, a, b, from) => {
    if (from === 'bool') return op === 'CMPLT' ? `(u32(${a}) < u32(${b}))` : `(${a} != ${b})`;
    if (from !== 'f32' && from !== 'f16') return `(${a} ${op === 'CMPLT' ? '<' : '!='} ${b})`;
    const nan = `(is_nan(${f32(a, from)}) || is_nan(${f32(b, from)}))`;
    return op === 'CMPLT' ? `select(${a} < ${b}, false, ${nan})` : `select(${a} != ${b}, true, ${nan})`;
  },
  // WGSL's max may drop a NaN operand; PyTorch's propagates it (NaN is tested on the bits: compilers may assume none)
  max: (a, b, d) =>
    d === 'f32' || d === 'f16'
      ? `select(select(max(${a}, ${b}), ${b}, is_nan(${f32(b, d)})), ${a}, is_nan(${f32(a, d)}))`
      : `max(${a}, ${b})`,
  fmod: (a, b, d) => (d === 'f16' ? `f16(fmod_f32(f32(${a}), f32(${b})))` : `fmod_f32(${a}, ${b})`),
  load: (buf, idx, d, gate) => {
    const at = gate ? `${buf}[select(0i, ${idx}, ${gate})]` : `${buf}[${idx}]`;
    const v = d === 'bool' ? `(${at} != 0u)` : at;
    return gate ? `select(${literal(0, d)}, ${v}, ${gate})` : v;
  },
  store: (buf, idx, value, d) => `${buf}[${idx}] = ${d === 'bool' ? `u32(${value})` : value};`,
  declare: (name, d, e, mutable) => `${mutable ? 'var' : 'let'} ${name}: ${types[d]} = ${e};`,
  loop: (name, n, start = '0', step = 1) => `for (var ${name}: i32 = ${start}; ${name} < ${n}; ${name} += ${step}) {`,
  globalIndex: (name, range, k) => `let ${name}: i32 = ${gridCoord(k, range.range.id)};`,
  checked: (v, lo, hi, msg) => `check_index(${v}, ${lo}, ${hi}, ${checkCode(msg, lo, hi)}u)`,
  variable: (i, d) => {
    const word = `${varsName}[${i >> 2}][${i & 3}]`;
    return d === 'u32' ? word : d === 'bool' ? `(${word} != 0u)` : `bitcast<${types[d]}>(${word})`;
  },
  barrier: 'workgroupBarrier();',
  // bool and bf16 inputs are stored as other types: they stay scalar
  vector: {
    dtypes: new Set(['f32', 'f16', 'i32', 'u32']),
    declare: (name, buf, i) => `let ${name} = ${buf}[${i}];`,
    lane: (v, i) => `${v}.${'xyzw'[i]}`,
  },
  bf16: { widen: (a) => a, narrow: (a) => `round_bf16(${a})` },
};

/** The complete shader: bindings (outputs read_write, inputs read), helpers, workgroup memory, the thread's output. */
function wgslKernel(
  k: Kernel,
  body: readonly string[],
  shared: readonly string[],
  uses: Uses,
  workgroupSize: number,
): string {
  const { f16, bf16, matrix } = uses;
  return [
    ...(f16 ? ['enable f16;'] : []),
    ...(matrix ? matrixEnables : []),
    `// ${k.name}`,
    ...k.params.map(
      (p, i) =>
        `@group(0) @binding(${i}) var<storage, ${p.write ? 'read_write' : 'read'}> ${bufName(i)}: ` +
        `array<${uses.vectors.has(i) ? `vec4<${stored(p.dtype)}>` : stored(p.dtype)}>;`,
    ),
    ...(uses.checks ? statusBinding(k.params.length) : []),
    ...(k.vars?.length ? [`@group(1) @binding(0) var<uniform> ${varsName}: array<vec4<u32>, ${maxVars / 4}>;`] : []),
    'fn inf_f32() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }',
    'fn nan_f32() -> f32 { var b = 0x7fc00000u; return bitcast<f32>(b); }',
    'fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }',
    'fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }',
    // f32 -> f16 rounds in integer arithmetic first: Mesa's compiler (lavapipe, and the NIR it shares with RADV and
    // ANV) drops an f16 conversion whose result is widened again; nearest-even at 13 bits, subnormals at 2^-24
    ...(f16
      ? [
          'fn round_f16(x: f32) -> f32 {',
          '  let b = bitcast<u32>(x); let a = b & 0x7fffffffu;',
          '  if (a >= 0x477ff000u) { return select(x, bitcast<f32>((b & 0x80000000u) | 0x7f800000u), a < ' +
            '0x7f800000u); }',
          '  if (a < 0x38800000u) { return round(x * 16777216.0) / 16777216.0; }',
          '  return bitcast<f32>((b + 0xfffu + ((b >> 13u) & 1u)) & 0xffffe000u);',
          '}',
        ]
      : []),
    // bf16 is the top half of an f32: nearest-even at 16 bits, NaN kept (the carry could turn it into inf)
    ...(bf16
      ? [
          'fn round_bf16(x: f32) -> f32 {',
          '  let b = bitcast<u32>(x);',
          '  if (is_nan(x)) { return bitcast<f32>(b | 0x400000u); }',
          '  return bitcast<f32>((b + 0x7fffu + ((b >> 16u) & 1u)) & 0xffff0000u);',
          '}',
        ]
      : []),
    // C's fmod, exact, in integer arithmetic: WGSL's float % is a - b * trunc(a / b), rounded twice, and fma need not
    // be fused (lavapipe's is not), so no float formula is exact. Both magnitudes as 24-bit mantissas (subnormals
    // normalized), long division one exponent step at a time; the remainder is representable, so nothing rounds
    'fn fmod_f32(a: f32, b: f32) -> f32 {',
    '  let sa = bitcast<u32>(a) & 0x80000000u; let ma = bitcast<u32>(a) & 0x7fffffffu;',
    '  let mb = bitcast<u32>(b) & 0x7fffffffu;',
    '  if (ma >= 0x7f800000u || mb > 0x7f800000u || mb == 0u) { return nan_f32(); }',
    '  if (ma < mb) { return a; }', // b infinite included
    '  if (ma == mb) { return bitcast<f32>(sa); }', // a zero remainder keeps the sign of a
    '  var x = mantissa_f32(ma); var y = mantissa_f32(mb);',
    '  let ex = exponent_f32(ma); let ey = exponent_f32(mb);',
    '  for (var e = ey; e < ex; e++) { if (x >= y) { x -= y; } x <<= 1u; }',
    '  if (x >= y) { x -= y; }',
    '  if (x == 0u) { return bitcast<f32>(sa); }',
    '  let s = countLeadingZeros(x) - 8u; let e = ey - i32(s);',
    '  x <<= s;',
    '  if (e >= 1) { return bitcast<f32>(sa | (u32(e) << 23u) | (x & 0x7fffffu)); }',
    '  return bitcast<f32>(sa | (x >> u32(1 - e)));',
    '}',
    // a finite magnitude's mantissa with its leading bit at bit 23, and the exponent that goes with it
    'fn mantissa_f32(m: u32) -> u32 {',
    '  if (m >= 0x800000u) { return (m & 0x7fffffu) | 0x800000u; }',
    '  return m << (countLeadingZeros(m) - 8u);',
    '}',
    'fn exponent_f32(m: u32) -> i32 {',
    '  if (m >= 0x800000u) { return i32(m >> 23u); }',
    '  return 1 - i32(countLeadingZeros(m) - 8u);',
    '}',
    ...shared,
    `@compute @workgroup_size(${workgroupSize})`,
    'fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, ' +
      `@builtin(local_invocation_index) lid: u32${matrix ? `, ${subgroupBuiltins}` : ''}) {`,
    ...prologue(wgsl, k, 'i32(wg.y * nwg.x + wg.x)', 'i32(lid)', workgroupSize),
    ...body,
    '}',
  ].join('\n');
}

/** The status word a failed index check writes (code, value) and the check itself, which then clamps. */
const statusBinding = (binding: number): string[] => [
  `@group(0) @binding(${binding}) var<storage, read_write> ${statusName}: array<atomic<u32>, 2>;`,
  'fn check_index(v: i32, lo: i32, hi: i32, code: u32) -> i32 {',
  `  if ((v < lo || v > hi) && atomicMax(&${statusName}[0], code) == 0u) { atomicStore(&${statusName}[1], ` +
    `bitcast<u32>(v)); }`,
  '  return clamp(v, lo, hi);',
  '}',
];

/** What a shader with subgroup matrices enables, and the entry point's subgroup builtins TC reads. */
const matrixEnables = ['enable subgroups;', 'enable chromium_experimental_subgroup_matrix;'];
const subgroupBuiltins = '@builtin(subgroup_id) sgid: u32, @builtin(subgroup_size) sgsize: u32';

/**
 * TC through subgroup matrices (Dawn's chromium_experimental_subgroup_matrix): a tile is multiplied in pieces of the
 * listed config (coreFor), each piece's left matrix loaded once per row of pieces and its right once per column,
 * straight from the staged chunks (A column-major, B row-major: codegen/tensorcore.ts). The device picks the subgroup
 * size, so there may be fewer subgroups than 32-thread warps: the tiles of warp w go to subgroup w mod their number.
 */
function matrixFor(workgroupSize: number, cores: readonly TensorCore[]): MatrixOps {
  const core = (s: MmaArg, input: DType): TensorCore => unitFor(cores, s, input, 'wgsl');
  const result = (t: TensorCore) => `subgroup_matrix_result<${types[t.acc]}, ${t.n}, ${t.m}>`;
  return {
    runs: (w) => `${w}u % (${workgroupSize}u / sgsize) == sgid`,
    declare: (acc, s, _d, input) => {
      const t = core(s, input);
      return `var ${acc}: array<${result(t)}, ${pieces(s, t).length}>;`;
    },
    step: (acc, a, b, s, input) => {
      const t = core(s, input),
        [rows, cols] = [s.m / t.m, s.n / t.n];
      const lefts = Array.from(
        { length: rows },
        (_, i) =>
          `let ml${i} = subgroupMatrixLoad<subgroup_matrix_left<${types[input]}, ${t.k}, ${t.m}>, col_major>` +
          `(&${a}, ${i * t.m}u, ${s.lda}u);`,
      );
      const rights = Array.from(
        { length: cols },
        (_, j) =>
          `let mr${j} = subgroupMatrixLoad<subgroup_matrix_right<${types[input]}, ${t.n}, ${t.k}>, row_major>` +
          `(&${b}, ${j * t.n}u, ${s.ldb}u);`,
      );
      const products = pieces(s, t).map(
        ({ row, col }, p) =>
          `${acc}[${p}] = subgroupMatrixMultiplyAccumulate(ml${row / t.m}, mr${col / t.n}, ${acc}[${p}]);`,
      );
      return [...lefts, ...rights, ...products].join(' ');
    },
    store: (c, acc, s, input) =>
      pieces(s, core(s, input))
        .map(({ row, col }, p) => `subgroupMatrixStore<row_major>(&${c}, ${row * s.n + col}u, ${acc}[${p}], ${s.n}u);`)
        .join(' '),
  };
}

const workgroupArray = (name: string, d: DType, size: number): string =>
  `var<workgroup> ${name}: array<${types[d]}, ${size}>;`;

/**
 * A shader that multiplies one piece of `core` as TC renders it: an adapter whose shader compiler refuses it (an
 * older spelling of the experimental builtins, a config its pipelines reject) does not list the core.
 */
export function subgroupMatrixProbe(workgroupSize: number, core: TensorCore): string {
  const ops = matrixFor(workgroupSize, [core]),
    s: MmaArg = { m: core.m, n: core.n, k: core.k, warp: 0, lda: core.m, ldb: core.n };
  return [
    ...(core.input === 'f16' ? ['enable f16;'] : []),
    ...matrixEnables,
    workgroupArray('pa', core.input, core.m * core.k),
    workgroupArray('pb', core.input, core.k * core.n),
    workgroupArray('pc', core.acc, core.m * core.n),
    `@compute @workgroup_size(${workgroupSize}) fn main(${subgroupBuiltins}) {`,
    ops.declare('acc', s, core.acc, core.input),
    `if (${ops.runs(0)}) { ${ops.step('acc', 'pa', 'pb', s, core.input)} ${ops.store('pc', 'acc', s, core.input)} }`,
    '}',
  ].join('\n');
}

/** The table for a workgroup size (from the adapter's limits) and the subgroup matrices TC may use. */
export const wgslFor = (workgroupSize: number, tensorCores: readonly TensorCore[] = []) =>
  cLanguage({
    ...wgsl,
    shared: (name, d, size = workgroupSize) => workgroupArray(name, d, size),
    kernel: (k, body, shared, uses) => wgslKernel(k, body, shared, uses, workgroupSize),
    ...(tensorCores.length ? { matrix: matrixFor(workgroupSize, tensorCores) } : {}),
  });
export const wgslLanguage = wgslFor(64);
