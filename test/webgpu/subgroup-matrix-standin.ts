// A stand-in for an adapter with subgroup matrices, on any WebGPU device (lavapipe in CI has none): the WGSL that
// TC renders is compiled with each experimental builtin rewritten into plain WGSL that does what Dawn's design doc
// (docs/dawn/features/subgroup_matrix.md) says it does, every invocation holding the whole matrix, and with subgroups
// of a chosen width (local index / width). A check of the renderer's offsets, strides, majorness and the deal of
// tiles to subgroups, not of a GPU's matrix unit; that Dawn's own compiler takes the source is checked apart, on its
// null backend (test/webgpu/subgroup-matrix.test.ts).
import type { Backend, TensorCore } from '../../backends/backend.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { relisted } from '../backends/relisted.js';

/** Where a load or store puts element (i, j) of a matrix at `off` with `stride` (Dawn's design doc). */
const place = (major: string): string => (major === 'col' ? 'off + j * stride + i' : 'off + i * stride + j');
/**
 * A loop of n steps. Its bound is n + pg_zero, a zero the shader compiler cannot see through (set from the launch's
 * workgroup count), so it keeps the loop: unrolled, the whole-matrix arrays of a UPCAST kernel took lavapipe's LLVM
 * 1.5 to over 5 minutes to compile (hidden where Mesa's shader cache had them already), against seconds kept.
 */
const loop = (v: string, n: number | string, body: string): string =>
  `for (var ${v} = 0u; ${v} < ${n}u + pg_zero; ${v}++) { ${body} }`;
/** A loop over every element (i, j) of an r×c matrix, held row-major. */
const cells = (r: number | string, c: number | string, body: string): string => loop('i', r, loop('j', c, body));

/** The source with subgroup matrices of `core` as plain arrays, in subgroups of `width` invocations. */
export function polyfill(source: string, core: TensorCore, width: number): string {
  const helpers = new Map<string, string>();
  // a matrix with C columns and R rows is array<T, R * C>, row-major
  const matrixType = /subgroup_matrix_(left|right|result)<(\w+), (\d+), (\d+)>/g;
  let out = source.replace(
    /subgroupMatrixLoad<subgroup_matrix_(left|right)<(\w+), (\d+), (\d+)>, (row|col)_major>\(&(\w+), /g,
    (_, kind: string, t: string, c: string, r: string, major: string, from: string) => {
      const name = `pg_load_${kind}_${t}_${c}_${r}_${major}_${from}`;
      helpers.set(
        name,
        `fn ${name}(off: u32, stride: u32) -> array<${t}, ${+r * +c}> { var m: array<${t}, ${+r * +c}>; ` +
          cells(r, c, `m[i * ${c}u + j] = ${from}[${place(major)}];`) +
          ' return m; }',
      );
      return `${name}(`;
    },
  );
  out = out.replace(/subgroupMatrixStore<(row|col)_major>\(&(\w+), /g, (_, major: string, to: string) => {
    const [r, c] = [core.m, core.n],
      name = `pg_store_${major}_${to}`;
    helpers.set(
      name,
      `fn ${name}(off: u32, m: array<${core.acc}, ${r * c}>, stride: u32) { ` +
        cells(r, c, `${to}[${place(major)}] = m[i * ${c}u + j];`) +
        ' }',
    );
    return `${name}(`;
  });
  const { m, n, k, input, acc } = core;
  helpers.set(
    'pg_mma',
    `fn pg_mma(l: array<${input}, ${m * k}>, r: array<${input}, ${k * n}>, c: array<${acc}, ${m * n}>) -> ` +
      `array<${acc}, ${m * n}> { var o = c; ` +
      cells(m, n, loop('x', k, `o[i * ${n}u + j] += ${acc}(l[i * ${k}u + x]) * ${acc}(r[x * ${n}u + j]);`)) +
      ' return o; }',
  );
  out = out
    .replace(/subgroupMatrixMultiplyAccumulate\(/g, 'pg_mma(')
    .replace(matrixType, (_, _kind, t: string, c: string, r: string) => `array<${t}, ${+r * +c}>`)
    .replace(/^enable (subgroups|chromium_experimental_subgroup_matrix);\n/gm, '')
    .replace(', @builtin(subgroup_id) sgid: u32, @builtin(subgroup_size) sgsize: u32) {', ') {');
  const main = out.indexOf('@compute');
  const body = out.indexOf('{', out.indexOf('fn main(')) + 1;
  return [
    out.slice(0, main),
    'var<private> pg_zero: u32;\n',
    ...[...helpers.values()].map((h) => `${h}\n`),
    out.slice(main, body),
    `\nlet sgsize = ${width}u; let sgid = lid / ${width}u; pg_zero = select(0u, 1u, nwg.x == 0u);`,
    out.slice(body),
  ].join('');
}

/**
 * `base` as a device whose caps list `core` in subgroups of `width`: kernels are rendered with subgroup matrices and
 * compiled through the polyfill.
 */
export function subgroupMatrixStandIn(base: Backend, core: TensorCore, width: number): Backend {
  const cores = [{ ...core, maxSubgroup: width }];
  return relisted(
    base,
    `webgpu-subgroup-matrix-${width}`,
    `subgroup matrices stood in for (subgroups of ${width})`,
    cores,
    wgslFor(base.caps.workgroupSize, cores),
    (source) => polyfill(source, core, width),
  );
}
