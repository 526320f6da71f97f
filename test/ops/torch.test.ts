// PyTorch's own answers (test/fixtures/ops/torch_edge.json, written by make_op_fixtures.py with PyTorch 1.13) on
// the edge cases where its semantics are subtle, replayed on every backend: values, dtype and shape. Integers and
// bools exact; floats within rtol 1e-6 + atol 2.4e-7 (PyTorch's own f32 cancellation in 1 + erf is that large), with
// NaN, ±inf and (except on WebGPU, where WGSL lets drivers drop it) the sign of zero exact. Cases marked ieee need
// exact IEEE residuals WGSL does not promise: CPU and CUDA only.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { type DType, type Tensor, linspace, stack, tensor, where } from '../../index.js';
import { backends } from '../backends.js';

type Value = number | boolean | string;
interface Fixture {
  name: string;
  ieee: boolean;
  method?: string;
  fn?: string;
  args: unknown[];
  inputs: { values: Value[]; shape: number[]; dtype: DType }[];
  expected: { values: Value[]; shape: number[]; dtype: DType };
}
const { cases } = JSON.parse(readFileSync(new URL('../fixtures/ops/torch_edge.json', import.meta.url), 'utf8')) as {
  cases: Fixture[];
};
const num = (v: Value): number =>
  typeof v === 'boolean'
    ? +v
    : v === 'nan'
      ? NaN
      : v === 'inf'
        ? Infinity
        : v === '-inf'
          ? -Infinity
          : v === '-0'
            ? -0
            : (v as number);

/** Calls that PyTorch makes with one expression and polygrad with a few: the fixture names them. */
const composite: Record<string, (x: Tensor, ...a: never[]) => Tensor> = {
  floorDivRemainder: (a, b: Tensor) => stack([a.floorDiv(b), a.remainder(b)]),
  argmaxArgmin: (x) => stack([x.argmax(1), x.argmin(1)]),
  maximumMinimum: (a, b: Tensor) => stack([a.maximum(b), a.minimum(b)]),
  log1pExpm1: (x) => stack([x.log1p(), x.expm1()]),
  lerpEnds: (a, b: Tensor) => stack([a.lerp(b, 1), a.lerp(b, 0), a.lerp(b, 0.75)]),
  castsMixed: (x) => stack([x.slice(0, 0, 5).cast('i32').cast('f32'), x.slice(0, 1).cast('bool').cast('f32')]),
  compareAll: (a, b: Tensor) => stack([a.eq(b), a.ne(b), a.lt(b), a.ge(b)]),
  sumToOne: (x) => x.sum().reshape([1]),
  varStd: (x) => stack([x.var(1), x.var(1, { correction: 0 }), x.std(0).sum().expand([3])]),
  softmaxBoth: (x) => stack([x.softmax(1), x.logSoftmax(1)]),
  norms: (x, w: Tensor, b: Tensor) =>
    stack([x.layerNorm([3], w, b), x.transpose(1, 2).groupNorm(3, w, b).transpose(1, 2)]),
  attention: (q, k: Tensor, v: Tensor, mask: Tensor) =>
    q.scaledDotProductAttention(k, v, { attnMask: mask, scale: 0.3 }),
};

function run(c: Fixture, device: string): Tensor {
  const xs = c.inputs.map((i) => tensor(i.values.map(num), { shape: i.shape, dtype: i.dtype, device }));
  const args = c.args.map((a) => (typeof a === 'string' && a.startsWith('$') ? xs[Number(a.slice(1))] : a));
  if (c.fn === 'linspace') return linspace(...(args as [number, number, number]), { ...(args[3] as object), device });
  if (c.fn === 'where') return where(args[0] as Tensor, args[1] as Tensor, args[2] as number);
  const own = composite[c.method!];
  if (own) return own(xs[0]!, ...(args as never[]));
  return (xs[0]! as unknown as Record<string, (...a: unknown[]) => Tensor>)[c.method!]!(...args);
}

describe.each(backends)('PyTorch fixtures on %s', (device) => {
  const signedZeros = device !== 'webgpu';
  test.each(cases.filter((c) => !c.ieee || device !== 'webgpu').map((c) => [c.name, c] as const))(
    '%s',
    async (_, c) => {
      const out = run(c, device);
      expect(out.shape).toEqual(c.expected.shape);
      expect(out.dtype).toBe(c.expected.dtype);
      const got = Array.from(await out.data(), (v) => (out.dtype === 'bool' ? +(v !== 0) : v));
      const bad: string[] = [];
      c.expected.values.map(num).forEach((w, i) => {
        const g = got[i]!;
        const ok = Number.isNaN(w)
          ? Number.isNaN(g)
          : !Number.isFinite(w)
            ? g === w
            : g === 0 && w === 0
              ? Object.is(g, w) || !signedZeros
              : Math.abs(g - w) <= 2.4e-7 + 1e-6 * Math.abs(w);
        if (!ok) bad.push(`[${i}] got ${Object.is(g, -0) ? '-0' : g}, PyTorch ${Object.is(w, -0) ? '-0' : w}`);
      });
      expect(bad, c.name).toEqual([]);
    },
  );
});
