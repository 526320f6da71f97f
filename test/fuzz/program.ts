// Random op graphs for the differential fuzzer: a program is a JSON list of nodes (inputs, elementwise, reductions,
// movement, matmul, conv2d, casts) that runs twice: as polygrad tensors on a device (jitted or not) and as float64
// reference code (test/ops/nd.ts, ref.ts). Each node keeps a bound on |value| so the generator only picks ops whose
// float32 error stays small against the values' scale (no exp of a sum of products, no int cast past 2^24).
import { type Tensor, jit, tensor } from '../../index.js';
import { type Nd, at, build, map, numel, reduce, rng, uniform, zip } from '../ops/nd.js';
import { conv2d as convRef, matmul as matmulRef, permute as permuteRef, roundEven, sigmoid } from '../ops/ref.js';

export const unaryOps = [
  'neg',
  'abs',
  'relu',
  'tanh',
  'sigmoid',
  'sin',
  'exp',
  'log1pabs',
  'sqrtabs',
  'square',
  'f16',
  'bf16',
  'i32',
] as const;
export const binaryOps = ['add', 'sub', 'mul', 'div', 'max', 'min', 'where'] as const;
export type Unary = (typeof unaryOps)[number];
export type Binary = (typeof binaryOps)[number];

export type Node =
  | { op: 'input'; shape: number[]; seed: number }
  | { op: 'unary'; fn: Unary; a: number }
  | { op: 'binary'; fn: Binary; a: number; b: number }
  | { op: 'reduce'; fn: 'sum' | 'max' | 'mean'; a: number; axis: number; keepdim: boolean }
  | { op: 'permute'; a: number; order: number[] }
  | { op: 'reshape'; a: number; shape: number[] }
  | { op: 'expand'; a: number; shape: number[] }
  | { op: 'shrink'; a: number; ranges: [number, number][] }
  | { op: 'flip'; a: number; axes: number[] }
  | { op: 'pad'; a: number; pads: [number, number][] }
  | { op: 'matmul'; a: number; b: number }
  | { op: 'conv2d'; a: number; w: number; stride: number; pad: number };

/** A program: its nodes in order (sources before users) and the nodes it outputs. */
export interface Program {
  readonly nodes: Node[];
  readonly outputs: number[];
}

/** The fields of a node that name other nodes. */
const sourceFields = ['a', 'b', 'w'] as const;
/** The nodes a node reads. */
export const sourcesOf = (n: Node): number[] =>
  sourceFields.flatMap((k) => (k in n ? [(n as Record<string, unknown>)[k] as number] : []));
/** The node with each source i replaced by to(i). */
export function withSources(n: Node, to: (i: number) => number): Node {
  const copy = { ...n } as Record<string, unknown>;
  for (const k of sourceFields) if (k in copy) copy[k] = to(copy[k] as number);
  return copy as Node;
}

// ---- shapes and bounds ----

export function shapeOf(p: Program, i: number, memo = new Map<number, number[]>()): number[] {
  const hit = memo.get(i);
  if (hit) return hit;
  const n = p.nodes[i]!,
    s = (j: number) => shapeOf(p, j, memo);
  const out = ((): number[] => {
    switch (n.op) {
      case 'input':
        return n.shape;
      case 'unary':
        return s(n.a);
      case 'binary':
        return broadcastShapes(s(n.a), s(n.b));
      case 'reduce': {
        const a = s(n.a);
        return n.keepdim ? a.map((d, k) => (k === n.axis ? 1 : d)) : a.filter((_, k) => k !== n.axis);
      }
      case 'permute':
        return n.order.map((o) => s(n.a)[o]!);
      case 'reshape':
      case 'expand':
        return n.shape;
      case 'shrink':
        return n.ranges.map(([lo, hi]) => hi - lo);
      case 'flip':
        return s(n.a);
      case 'pad':
        return s(n.a).map((d, k) => d + n.pads[k]![0] + n.pads[k]![1]);
      case 'matmul': {
        const a = s(n.a),
          b = s(n.b);
        return [...a.slice(0, -1), b[b.length - 1]!];
      }
      case 'conv2d': {
        const [N, , H, W] = s(n.a) as [number, number, number, number],
          [Co, , k] = s(n.w) as [number, number, number];
        const o = (d: number) => Math.floor((d + 2 * n.pad - k) / n.stride) + 1;
        return [N, Co, o(H), o(W)];
      }
    }
  })();
  memo.set(i, out);
  return out;
}

function broadcastShapes(a: number[], b: number[]): number[] {
  const l = Math.max(a.length, b.length);
  return Array.from({ length: l }, (_, i) => Math.max(a[a.length - l + i] ?? 1, b[b.length - l + i] ?? 1));
}

/** A bound on |value| of every element of node i (inputs are in [-2, 2]). */
function boundOf(p: Program, i: number, shapes: Map<number, number[]>, memo = new Map<number, number>()): number {
  const hit = memo.get(i);
  if (hit !== undefined) return hit;
  const n = p.nodes[i]!,
    b = (j: number) => boundOf(p, j, shapes, memo);
  const out = ((): number => {
    switch (n.op) {
      case 'input':
        return 2;
      case 'unary':
        switch (n.fn) {
          case 'tanh':
          case 'sigmoid':
          case 'sin':
            return 1;
          case 'exp':
            return Math.exp(b(n.a));
          case 'log1pabs':
            return Math.log1p(b(n.a));
          case 'sqrtabs':
            return Math.sqrt(b(n.a) + 0.01);
          case 'square':
            return b(n.a) ** 2;
          default:
            return b(n.a);
        }
      case 'binary':
        switch (n.fn) {
          case 'mul':
            return b(n.a) * b(n.b);
          case 'div':
            return 2 * b(n.a); // a / (|b| + 0.5)
          case 'add':
          case 'sub':
            return b(n.a) + b(n.b);
          default:
            return Math.max(b(n.a), b(n.b));
        }
      case 'reduce':
        return n.fn === 'sum' ? b(n.a) * shapeOf(p, n.a, shapes)[n.axis]! : b(n.a);
      case 'matmul': {
        const a = shapeOf(p, n.a, shapes);
        return b(n.a) * b(n.b) * a[a.length - 1]!;
      }
      case 'conv2d': {
        const w = shapeOf(p, n.w, shapes);
        return b(n.a) * b(n.w) * numel(w.slice(1));
      }
      default:
        return b(n.a);
    }
  })();
  memo.set(i, out);
  return out;
}

// ---- generation ----

const MAX_ELEMENTS = 8192;

/** A random program of `size` ops (plus its inputs) from `seed`: the same seed always gives the same program. */
export function generate(seed: number, size = 8): Program {
  const r = rng(seed * 7919 + 17),
    pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const nodes: Node[] = [],
    shapes = new Map<number, number[]>(),
    bounds = new Map<number, number>();
  const p: Program = { nodes, outputs: [] };
  const dims = (): number[] => {
    const d = Array.from({ length: int(1, 4) }, () => pick([1, 2, 3, 5, 7, 8, 16, 33]));
    return numel(d) <= MAX_ELEMENTS / 4 ? d : dims();
  };
  // the float64 reference is plain JS over index lists: a node of more than MAX_ELEMENTS is not added
  const add = (n: Node): number => {
    nodes.push(n);
    const i = nodes.length - 1;
    if (i > 0 && numel(shapeOf(p, i, shapes)) > MAX_ELEMENTS) {
      if (n.op === 'input') throw new Error(`fuzz: generated an input of ${numel(shapeOf(p, i, shapes))} elements`);
      nodes.pop();
      shapes.delete(i);
      return i - 1; // the op is not added (nothing uses the index an op returns)
    }
    return i;
  };
  const input = (shape: number[]) => add({ op: 'input', shape, seed: int(1, 1e6) });
  const sh = (i: number) => shapeOf(p, i, shapes),
    bd = (i: number) => boundOf(p, i, shapes, bounds);
  input(dims());
  const ops = () => nodes.filter((n) => n.op !== 'input').length;
  while (ops() < size) {
    // mostly chains (the latest node), sometimes a branch off a recent one
    const a = r() < 0.6 ? nodes.length - 1 : int(Math.max(0, nodes.length - 4), nodes.length - 1),
      s = sh(a),
      B = bd(a);
    const kind = pick([
      'unary',
      'unary',
      'binary',
      'binary',
      'reduce',
      'movement',
      'movement',
      'matmul',
      'conv2d',
    ] as const);
    if (kind === 'unary') {
      // casts round: only on inputs (exact float32 values on both sides), never on computed values a rounding
      // error away from a rounding boundary; sin loses argument precision on large values
      const isInput = nodes[a]!.op === 'input';
      const safe = unaryOps.filter(
        (f) =>
          (f !== 'exp' || B <= 8) &&
          (f !== 'square' || B <= 1e3) &&
          (f !== 'sin' || B <= 100) &&
          ((f !== 'i32' && f !== 'f16' && f !== 'bf16') || isInput),
      );
      add({ op: 'unary', fn: pick(safe), a });
    } else if (kind === 'binary') {
      // the other operand: an earlier node that broadcasts with this one, or a fresh input of a broadcastable shape
      const fits = nodes.map((_, j) => j).filter((j) => j !== a && broadcasts(sh(j), s));
      const b =
        fits.length && r() < 0.5
          ? pick(fits)
          : input(s.map((d) => (r() < 0.25 ? 1 : d)).slice(int(0, Math.min(1, s.length - 1))));
      const fn = pick(binaryOps.filter((f) => f !== 'mul' || B * bd(b) <= 1e4));
      add({ op: 'binary', fn, a, b });
    } else if (kind === 'reduce' && s.length > 0) {
      add({
        op: 'reduce',
        fn: pick(['sum', 'max', 'mean'] as const),
        a,
        axis: int(0, s.length - 1),
        keepdim: r() < 0.5,
      });
    } else if (kind === 'movement' && s.length > 0) {
      movement(a, s);
    } else if (kind === 'matmul' && s.length >= 1 && B <= 100 && s[s.length - 1]! <= MAX_ELEMENTS / 17) {
      const k = s[s.length - 1]!,
        m = pick([1, 3, 8, 17]);
      const lhs = s.length === 1 ? add({ op: 'reshape', a, shape: [1, k] }) : a;
      add({ op: 'matmul', a: lhs, b: input([k, m]) });
    } else if (kind === 'conv2d' && B <= 100) {
      const c = pick([1, 2, 3]),
        k = pick([1, 3]),
        x = s.length === 4 && s[2]! >= k && s[3]! >= k ? a : input([int(1, 2), c, int(3, 9), int(3, 9)]);
      const pad = k === 3 ? int(0, 1) : 0;
      add({ op: 'conv2d', a: x, w: input([pick([1, 4]), sh(x)[1]!, k, k]), stride: pick([1, 1, 2]), pad });
    }
  }

  function movement(a: number, s: number[]): void {
    const which = pick(['permute', 'reshape', 'expand', 'shrink', 'flip', 'pad'] as const);
    if (which === 'permute') {
      const order = s.map((_, i) => i).sort(() => r() - 0.5);
      add({ op: 'permute', a, order });
    } else if (which === 'reshape') {
      // split or merge neighbouring dims, keeping the element count
      const n = numel(s),
        shape = r() < 0.5 ? [n] : factor(n);
      add({ op: 'reshape', a, shape });
    } else if (which === 'expand') {
      const ones = s.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0);
      if (!ones.length) add({ op: 'reshape', a, shape: [1, ...s] });
      else add({ op: 'expand', a, shape: s.map((d, i) => (i === pick(ones) ? pick([2, 3, 5]) : d)) });
    } else if (which === 'shrink') {
      add({
        op: 'shrink',
        a,
        ranges: s.map((d) => {
          const lo = int(0, d - 1);
          return [lo, int(lo + 1, d)];
        }),
      });
    } else if (which === 'flip') {
      add({ op: 'flip', a, axes: s.map((_, i) => i).filter(() => r() < 0.6) });
    } else {
      add({ op: 'pad', a, pads: s.map(() => [int(0, 2), int(0, 2)]) });
    }
  }
  function factor(n: number): number[] {
    const f = [2, 3, 5, 7].find((q) => n % q === 0 && n > q);
    return f ? [f, n / f] : [1, n];
  }

  // outputs: the last node and up to two other nodes nothing uses (several outputs of one schedule)
  const used = new Set(nodes.flatMap(sourcesOf));
  const sinks = nodes
    .map((_n, i) => i)
    .filter((i) => nodes[i]!.op !== 'input' && !used.has(i) && i !== nodes.length - 1);
  p.outputs.push(nodes.length - 1, ...sinks.slice(-2));
  return p;
}

function broadcasts(a: number[], b: number[]): boolean {
  if (a.length > b.length) return false;
  return a.every((d, i) => d === 1 || d === b[b.length - a.length + i]);
}

// ---- running ----

/** An input's values, float32-exact (the device and the reference start from the same numbers). */
export const inputValues = (n: Extract<Node, { op: 'input' }>): Nd => map(uniform(n.shape, n.seed), Math.fround);

/**
 * x rounded to the nearest float with `fraction` fraction bits, exponents from minExp (subnormals below) to maxExp,
 * ties to even, in float64; beyond the largest finite value by half an ulp or more: infinity.
 */
function roundFloat(x: number, fraction: number, minExp: number, maxExp: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const a = Math.abs(x);
  if (a >= (2 - 2 ** -(fraction + 1)) * 2 ** maxExp) return Math.sign(x) * Infinity;
  let e = Math.max(minExp, Math.floor(Math.log2(a)));
  if (e > minExp && 2 ** e > a) e--;
  const q = 2 ** (e - fraction);
  return Math.sign(x) * roundEven(a / q) * q;
}
/** x rounded to the nearest f16 value: the reference of a cast to f16. */
export const f16Round = (x: number): number => roundFloat(x, 10, -14, 15);
/** An f32 value x rounded to the nearest bfloat16 (f32's exponents, 7 fraction bits): a cast to bf16. */
export const bf16Round = (x: number): number => roundFloat(x, 7, -126, 127);

/** The float64 reference of every output. */
export function reference(p: Program): Nd[] {
  const v: Nd[] = [];
  for (const n of p.nodes) v.push(refNode(n, v));
  return p.outputs.map((o) => v[o]!);
}

function refNode(n: Node, v: Nd[]): Nd {
  switch (n.op) {
    case 'input':
      return inputValues(n);
    case 'unary': {
      const f: Record<Unary, (x: number) => number> = {
        neg: (x) => -x,
        abs: Math.abs,
        relu: (x) => Math.max(x, 0),
        tanh: Math.tanh,
        sigmoid,
        sin: Math.sin,
        exp: Math.exp,
        log1pabs: (x) => Math.log(Math.abs(x) + 1),
        sqrtabs: (x) => Math.sqrt(Math.abs(x) + 0.01),
        square: (x) => x * x,
        f16: f16Round,
        bf16: bf16Round,
        i32: Math.trunc,
      };
      return map(v[n.a]!, f[n.fn]);
    }
    case 'binary': {
      const f: Record<Binary, (x: number, y: number) => number> = {
        add: (x, y) => x + y,
        sub: (x, y) => x - y,
        mul: (x, y) => x * y,
        div: (x, y) => x / (Math.abs(y) + 0.5),
        max: Math.max,
        min: Math.min,
        where: (x, y) => Math.max(x, y),
      };
      return zip(v[n.a]!, v[n.b]!, f[n.fn]);
    }
    case 'reduce': {
      const f = {
        sum: (xs: number[]) => xs.reduce((a, b) => a + b, 0),
        max: (xs: number[]) => Math.max(...xs),
        mean: (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length,
      }[n.fn];
      return reduce(v[n.a]!, [n.axis], f, n.keepdim);
    }
    case 'permute':
      return permuteRef(v[n.a]!, n.order);
    case 'reshape':
      return { shape: n.shape, data: v[n.a]!.data };
    case 'expand': {
      const a = v[n.a]!;
      return build(n.shape, (i) =>
        at(
          a,
          i.map((x, k) => (a.shape[k] === 1 ? 0 : x)),
        ),
      );
    }
    case 'shrink': {
      const a = v[n.a]!;
      return build(
        n.ranges.map(([lo, hi]) => hi - lo),
        (i) =>
          at(
            a,
            i.map((x, k) => x + n.ranges[k]![0]),
          ),
      );
    }
    case 'flip': {
      const a = v[n.a]!;
      return build(a.shape, (i) =>
        at(
          a,
          i.map((x, k) => (n.axes.includes(k) ? a.shape[k]! - 1 - x : x)),
        ),
      );
    }
    case 'pad': {
      const a = v[n.a]!;
      return build(
        a.shape.map((d, k) => d + n.pads[k]![0] + n.pads[k]![1]),
        (i) => {
          const j = i.map((x, k) => x - n.pads[k]![0]);
          return j.every((x, k) => x >= 0 && x < a.shape[k]!) ? at(a, j) : 0;
        },
      );
    }
    case 'matmul':
      return matmulRef(v[n.a]!, v[n.b]!);
    case 'conv2d':
      return convRef(v[n.a]!, v[n.w]!, undefined, n.stride, n.pad);
  }
}

/** The program as polygrad tensors over `inputs` (one per input node, in order). */
function build_(p: Program, inputs: Tensor[]): Tensor[] {
  const v: Tensor[] = [];
  let k = 0;
  for (const n of p.nodes) v.push(n.op === 'input' ? inputs[k++]! : tensorNode(n, v));
  return p.outputs.map((o) => v[o]!);
}

function tensorNode(n: Exclude<Node, { op: 'input' }>, v: Tensor[]): Tensor {
  switch (n.op) {
    case 'unary':
      return unaryTensor(n.fn, v[n.a]!);
    case 'binary':
      return binaryTensor(n.fn, v[n.a]!, v[n.b]!);
    case 'reduce':
      return n.fn === 'sum'
        ? v[n.a]!.sum(n.axis, n.keepdim)
        : n.fn === 'max'
          ? v[n.a]!.max(n.axis, n.keepdim)
          : v[n.a]!.mean(n.axis, n.keepdim);
    case 'permute':
      return v[n.a]!.permute(n.order);
    case 'reshape':
      return v[n.a]!.reshape(n.shape);
    case 'expand':
      return v[n.a]!.expand(n.shape);
    case 'shrink':
      return v[n.a]!.shrink(n.ranges);
    case 'flip':
      return v[n.a]!.flip(n.axes);
    case 'pad':
      return v[n.a]!.pad([...n.pads].reverse().flat());
    case 'matmul':
      return v[n.a]!.matmul(v[n.b]!);
    case 'conv2d':
      return v[n.a]!.conv2d(v[n.w]!, undefined, { stride: n.stride, padding: n.pad });
  }
}

function unaryTensor(fn: Unary, a: Tensor): Tensor {
  switch (fn) {
    case 'neg':
      return a.neg();
    case 'abs':
      return a.abs();
    case 'relu':
      return a.relu();
    case 'tanh':
      return a.tanh();
    case 'sigmoid':
      return a.sigmoid();
    case 'sin':
      return a.sin();
    case 'exp':
      return a.exp();
    case 'log1pabs':
      return a.abs().add(1).log();
    case 'sqrtabs':
      return a.abs().add(0.01).sqrt();
    case 'square':
      return a.mul(a);
    case 'f16':
      return a.cast('f16').cast('f32');
    case 'bf16':
      return a.cast('bf16').cast('f32');
    case 'i32':
      return a.cast('i32').cast('f32');
  }
}

function binaryTensor(fn: Binary, a: Tensor, b: Tensor): Tensor {
  switch (fn) {
    case 'add':
      return a.add(b);
    case 'sub':
      return a.sub(b);
    case 'mul':
      return a.mul(b);
    case 'div':
      return a.div(b.abs().add(0.5));
    case 'max':
      return a.maximum(b);
    case 'min':
      return a.minimum(b);
    case 'where':
      return a.gt(b).where(a, b);
  }
}

export interface RunOptions {
  readonly device: string;
  readonly jit: boolean;
}

/** The outputs computed on a device: directly, or through jit (its third call replays a capture). */
export async function run(p: Program, opts: RunOptions): Promise<Float32Array[]> {
  const inputNodes = p.nodes.filter((n): n is Extract<Node, { op: 'input' }> => n.op === 'input');
  const inputs = () =>
    inputNodes.map((n) => tensor(Float32Array.from(inputValues(n).data), { shape: n.shape, device: opts.device }));
  const read = async (outs: Tensor[]) => Promise.all(outs.map(async (t) => Float32Array.from(await t.data())));
  if (!opts.jit) return read(build_(p, inputs()));
  const f = jit((...xs: Tensor[]) => build_(p, xs));
  try {
    let last: Float32Array[] = [];
    for (let call = 0; call < 3; call++) last = await read(await f(...inputs()));
    return last;
  } finally {
    f.dispose();
  }
}

/** Why the outputs differ from the reference (or from `peer`, another device's outputs), or undefined. */
export function compare(p: Program, got: Float32Array[], want: Nd[], tol = 1e-4): string | undefined {
  for (let o = 0; o < want.length; o++) {
    const w = want[o]!,
      g = got[o]!;
    if (g.length !== numel(w.shape))
      return `output ${o}: ${g.length} values, expected ${numel(w.shape)} (shape [${w.shape}])`;
    // errors are judged against the output's scale: a sum that cancels to ~0 carries its terms' rounding
    const scale = w.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    for (let i = 0; i < g.length; i++) {
      const e = Math.abs(g[i]! - w.data[i]!);
      if (
        !(e <= tol * (scale + 1e-3) + tol * Math.abs(w.data[i]!)) &&
        !(Number.isNaN(g[i]!) && Number.isNaN(w.data[i]!))
      ) {
        return `output ${o} (node ${p.outputs[o]}, shape [${w.shape}]) [${i}]: got ${g[i]}, want ${w.data[i]}`;
      }
    }
  }
  return undefined;
}

export { build_ as buildProgram };
