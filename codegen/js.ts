// The JavaScript language table: kernels run as plain functions over typed arrays on the CPU.
// Float chains run in double (Math.fround after every op would halve the speed of reduce loops) and are rounded
// to their dtype wherever a value is observed: stores, compares, trunc, fmod and casts, so discrete results
// (0.1 + 0.2 == 0.3, floor(16777215 + 0.5)) match PyTorch and the GPU targets. Integer ops wrap to 32 bits.
import type { DType } from './dtype.js';
import type { Language } from './render.js';
import type { AluOp } from './uop.js';
import { bufName } from './render.js';

/** A float value rounded to its dtype d (ints and bools pass). */
const rounded = (d: DType, e: string): string =>
  d === 'f32' ? `Math.fround(${e})` : d === 'f16' ? `h.f16(${e})` : d === 'bf16' ? `h.bf16(${e})` : e;
const intSuffix = (d: DType, e: string): string =>
  d === 'i32' ? `((${e}) | 0)` : d === 'u32' ? `((${e}) >>> 0)` : `(${e})`;

function castJs(a: string, to: DType, from: DType): string {
  if (to === 'bool') return from === 'bool' ? a : `(${a} != 0)`;
  const n = from === 'bool' ? `(${a} ? 1 : 0)` : a;
  switch (to) {
    case 'f32':
      return from === 'bool' ? n : `Math.fround(${n})`;
    case 'f16':
      return `h.f16(${n})`;
    case 'bf16':
      return `h.bf16(${n})`;
    case 'i32':
      return `(${n} | 0)`;
    case 'u32':
      return `(${n} >>> 0)`;
    default:
      return to satisfies never;
  }
}

function aluJs(op: AluOp, [a, b, c]: readonly string[], d: DType, from: DType): string {
  const bool = d === 'bool',
    int = d === 'i32' || d === 'u32';
  switch (op) {
    case 'NEG':
      return int ? intSuffix(d, `-${a}`) : `(-${a})`;
    case 'RECIP':
      return `(1 / ${a})`;
    case 'SQRT':
      return `Math.sqrt(${a})`;
    case 'EXP2':
      return `Math.exp(${a} * 0.6931471805599453)`; // V8's Math.exp is far faster than 2 ** x
    case 'LOG2':
      return `Math.log2(${a})`;
    case 'EXP':
      return `Math.exp(${a})`;
    case 'LOG':
      return `Math.log(${a})`;
    case 'SIN':
      return `Math.sin(${a})`;
    case 'COS':
      return `Math.cos(${a})`;
    case 'TRUNC':
      return `Math.trunc(${rounded(d, a!)})`;
    case 'ADD':
      return intSuffix(d, `${a} + ${b}`);
    case 'MUL':
      return int ? intSuffix(d, `Math.imul(${a}, ${b})`) : `(${a} * ${b})`;
    case 'FDIV':
      return `(${a} / ${b})`;
    case 'IDIV':
      return intSuffix(d, `${a} / ${b}`);
    case 'MOD':
      return int ? intSuffix(d, `${a} % ${b}`) : `(${rounded(d, a!)} % ${rounded(d, b!)})`;
    case 'MAX':
      return bool ? `(${a} || ${b})` : `Math.max(${a}, ${b})`;
    case 'CMPLT':
      return `(${rounded(from, a!)} < ${rounded(from, b!)})`;
    case 'CMPNE':
      return `(${rounded(from, a!)} != ${rounded(from, b!)})`;
    case 'AND':
      return bool ? `(${a} && ${b})` : intSuffix(d, `${a} & ${b}`);
    case 'OR':
      return bool ? `(${a} || ${b})` : intSuffix(d, `${a} | ${b}`);
    case 'XOR':
      return bool ? `(${a} !== ${b})` : intSuffix(d, `${a} ^ ${b}`);
    case 'SHL':
      return intSuffix(d, `${a} << ${b}`);
    case 'SHR':
      return d === 'u32' ? `(${a} >>> ${b})` : `(${a} >> ${b})`;
    case 'WHERE':
      return `(${a} ? ${b} : ${c})`;
    case 'CAST':
      return castJs(rounded(from, a!), d, from);
    case 'BITCAST':
      return `h.bitcast(${a}, '${from}', '${d}')`;
    default:
      return op satisfies never;
  }
}

/** A value as its typed array holds it: halves as their bits, bools as 0/1. */
const storedJs = (value: string, d: DType): string =>
  d === 'f16' ? `h.f2h(${value})` : d === 'bf16' ? `h.f2bh(${value})` : d === 'bool' ? `(${value} ? 1 : 0)` : value;

export const jsArrayType: Record<DType, string> = {
  f32: 'Float32Array',
  f16: 'Uint16Array',
  bf16: 'Uint16Array',
  i32: 'Int32Array',
  u32: 'Uint32Array',
  bool: 'Uint8Array',
};

export const jsLanguage: Language = {
  name: 'js',
  literal: (v, d) => {
    if (d === 'bool') return v ? 'true' : 'false';
    const n = Number(v);
    return Object.is(n, -0)
      ? '-0'
      : Number.isNaN(n)
        ? 'NaN'
        : n === Infinity
          ? 'Infinity'
          : n === -Infinity
            ? '-Infinity'
            : String(n);
  },
  alu: aluJs,
  load: (buf, idx, d, gate) => {
    // f16 and bf16 widen through 65536-entry tables (a function call per element made f16 weights ~10x slower)
    const v =
      d === 'f16'
        ? `h.halves[${buf}[${idx}]]`
        : d === 'bf16'
          ? `h.bhalves[${buf}[${idx}]]`
          : d === 'bool'
            ? `(${buf}[${idx}] !== 0)`
            : `${buf}[${idx}]`;
    return gate ? `(${gate} ? ${v} : ${d === 'bool' ? 'false' : '0'})` : v;
  },
  store: (buf, idx, value, d) => `${buf}[${idx}] = ${storedJs(value, d)};`,
  declare: (name, _d, e, mutable) => `${mutable ? 'let' : 'const'} ${name} = ${e};`,
  loop: (name, n) => `for (let ${name} = 0; ${name} < ${n}; ${name}++) {`,
  splitLoop: (name) => `for (let ${name} = lo; ${name} < hi; ${name}++) {`,
  globalIndex: () => {
    throw new Error('js: the CPU runs global ranges as loops');
  },
  variable: (i, d) => (d === 'bool' ? `(v[${i}] !== 0)` : `v[${i}]`),
  checked: (v, lo, hi, msg) => `h.check(${v}, ${lo}, ${hi}, ${JSON.stringify(msg)})`,
  kernel: (k, body) =>
    [
      `// ${k.name}`,
      ...k.params.map((p, i) => `const ${bufName(i)} = b[${i}]; // ${p.dtype}[${p.numel}]${p.write ? ' out' : ''}`),
      ...body,
    ].join('\n'),
};
