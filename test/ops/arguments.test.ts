// Bad arguments to ops and creation functions: a one-line error that names the op, what was wrong and what was
// expected, never a NaN shape, a wrapped integer or a raw JS error; and the PyTorch semantics the op audit found.
import { describe, expect, test } from 'vitest';
import {
  arange,
  cat,
  eye,
  full,
  linspace,
  manualSeed,
  ones,
  rand,
  randint,
  randn,
  stack,
  tensor,
  variable,
  where,
  zeros,
} from '../../index.js';
import { backends } from '../backends.js';

// arguments typed wrong on purpose, as a JS caller may pass them
// biome-ignore lint/suspicious/noExplicitAny: deliberately ill-typed arguments
const bad = (v: unknown): any => v;

describe('sizes, counts and indices must be integers', () => {
  test('movement ops', () => {
    const t = zeros([3, 4]);
    expect(() => t.split(0)).toThrow('split: size must be a positive integer, got 0');
    expect(() => t.split(1.5)).toThrow('split: size must be a positive integer, got 1.5');
    expect(() => t.split([1, 1.5, 0.5])).toThrow(
      'split: size must be a positive integer or a list of non-negative integers, got [1, 1.5, 0.5]',
    );
    expect(
      zeros([0, 3])
        .split(0)
        .map((p) => p.shape),
    ).toEqual([[0, 3]]); // PyTorch: 0 splits an empty dim
    expect(() => t.chunk(0)).toThrow('chunk: chunks must be a positive integer, got 0');
    expect(() => t.pad([1.5, 0])).toThrow('pad: padding must be a list of integers, got [1.5, 0]');
    expect(() => t.pad([NaN, 0])).toThrow('pad: padding must be a list of integers, got [NaN, 0]');
    expect(() => t.repeat(1.5, 1)).toThrow('repeat: counts must be non-negative integers, got [1.5, 1]');
    expect(() => t.repeat(-1, 1)).toThrow('repeat: counts must be non-negative integers, got [-1, 1]');
    expect(() => t.narrow(0, 0.5, 2)).toThrow('narrow: start must be an integer, got 0.5');
    expect(() => t.narrow(0, 0, -1)).toThrow('narrow: length must be a non-negative integer, got -1');
    expect(() => t.slice(0, 0.5, 3)).toThrow('slice: start must be an integer, got 0.5');
    expect(() => t.slice(0, 0, bad(variable(2, { dtype: 'i32', device: 'cpu' })))).toThrow(
      'slice: end must be an integer, got Tensor([], i32, cpu)',
    );
    expect(() => t.slice(0, 0, 3, 0)).toThrow('slice: step must be a positive integer, got 0');
    expect(() => t.shrink([[0, 1.5], null])).toThrow(
      'shrink: range for dim 0 must be two integers [lo, hi] or null, got [0, 1.5]',
    );
    expect(() => zeros([2, 3, 4]).flatten(2, 1)).toThrow(
      'flatten: startDim must not come after endDim, got 2 and 1 for [2, 3, 4]',
    );
    expect(zeros([2, 3, 4]).flatten(1, 1).shape).toEqual([2, 3, 4]);
    expect(() => t.expand([3, 4.5])).toThrow('expand: sizes must be non-negative integers or -1, got [3, 4.5]');
    expect(t.expand([2, -1, 4]).shape).toEqual([2, 3, 4]);
    expect(() => t.reshape([2, '6'] as unknown as number[])).toThrow(
      'reshape: shape must hold non-negative integers and at most one -1, got [2, "6"]',
    );
  });

  test('axes and indices given as strings are refused, not misread', () => {
    expect(() => zeros([2, 3]).sum(bad('0'))).toThrow('sum: axis must be an integer or a list of integers, got "0"');
    expect(() => zeros([2, 3]).sum(bad(['0']))).toThrow('sum: axis must be an integer, got "0"');
    expect(() => zeros([2, 3]).select(0, bad('1'))).toThrow('select: index must be an integer, got "1"');
    expect(() => zeros([2, 3]).select(bad('0'), 1)).toThrow('select: axis must be an integer, got "0"');
    expect(() => zeros([2, 3]).softmax(0.5)).toThrow('softmax: axis must be an integer, got 0.5');
  });

  test('creation', () => {
    expect(() => linspace(0, 1, bad('3'))).toThrow('linspace: steps must be a non-negative integer, got "3"');
    expect(() => linspace(0, 1, -3)).toThrow('linspace: steps must be a non-negative integer, got -3');
    expect(() => linspace(0, 1, 2.5)).toThrow('linspace: steps must be a non-negative integer, got 2.5');
    expect(() => linspace(bad('0'), 1, 3)).toThrow('linspace: start must be a number, got "0"');
    expect(linspace(0, 1, 0).shape).toEqual([0]);
    expect(() => eye(2.5)).toThrow('eye: n must be a non-negative integer, got 2.5');
    expect(() => eye(-2)).toThrow('eye: n must be a non-negative integer, got -2');
    expect(() => eye(2, -1)).toThrow('eye: m must be a non-negative integer, got -1');
    expect(() => arange(NaN)).toThrow('arange: end must be a finite number, got NaN');
    expect(() => arange(Infinity)).toThrow('arange: end must be a finite number, got Infinity');
    expect(() => arange(bad('5'))).toThrow('arange: end must be a finite number, got "5"');
    expect(() => arange(0, 5, NaN)).toThrow('arange: step must be a finite number, got NaN');
    expect(() => arange(0, 1, 1e-12)).toThrow(
      'arange: the range [0, 1) with step 1e-12 must have fewer than 2^31 elements',
    );
    expect(() => zeros([variable(2, { device: 'cpu' })] as unknown as number[])).toThrow(
      'zeros: shape [Tensor([], f32, cpu)] must hold non-negative integers (Tensor([], f32, cpu) is not one)',
    );
  });
  test('argmax and argmin of an empty tensor name themselves', () => {
    expect(() => zeros([0]).argmax()).toThrow(
      'argmax: cannot reduce over all dims of [0]: it is empty and argmax has no identity',
    );
    expect(() => zeros([2, 0]).argmin(1)).toThrow(
      'argmin: cannot reduce over dim 1 of [2, 0]: it is empty and argmin has no identity',
    );
  });
});

describe('scalar operands are numbers or booleans', () => {
  test('elementwise ops refuse strings, lists, objects, bigints and missing operands', () => {
    const t = ones([2]);
    expect(() => t.add(bad('1'))).toThrow('add: other must be a Tensor, a number or a boolean, got "1"');
    expect(() => t.add(bad(undefined))).toThrow('add: other must be a Tensor, a number or a boolean, got undefined');
    expect(() => t.add(bad([1, 2]))).toThrow(
      'add: other must be a Tensor, a number or a boolean, got [1, 2] (wrap a list in tensor())',
    );
    expect(() => t.add(bad({}))).toThrow('add: other must be a Tensor, a number or a boolean, got {}');
    expect(() => t.mul(bad(1n))).toThrow('mul: other must be a Tensor, a number or a boolean, got 1n');
    expect(() => t.lt(bad(null))).toThrow('lt: other must be a Tensor, a number or a boolean, got null');
    expect(() => t.clamp(bad('a'))).toThrow('clamp: min must be a Tensor, a number or a boolean, got "a"');
    expect(() => t.clamp(0, bad('a'))).toThrow('clamp: max must be a Tensor, a number or a boolean, got "a"');
    expect(() => t.pad([1, 0], bad('x'))).toThrow('pad: value must be a number or a boolean, got "x"');
    expect(() => t.leakyRelu(bad('x'))).toThrow('leakyRelu: slope must be a number, got "x"');
    expect(() => t.elu(bad('x'))).toThrow('elu: alpha must be a number, got "x"');
    expect(() => t.softplus({ beta: bad('2') })).toThrow('softplus: beta must be a number, got "2"');
    expect(() => t.gelu({ approximate: bad('fast') })).toThrow(
      "gelu: approximate must be 'none' or 'tanh', got \"fast\"",
    );
    expect(() => t.gelu(bad('tanh'))).toThrow('gelu: options must be an object, got "tanh"');
    expect(() => t.lerp(bad('x'), 0.5)).toThrow('lerp: end must be a Tensor or a number, got "x"');
    expect(() => t.maskedFill(t.gt(0), bad('x'))).toThrow('maskedFill: value must be a number or a boolean, got "x"');
    expect(() => where(t.gt(0), bad('x'), 0)).toThrow('where: input must be a Tensor, a number or a boolean, got "x"');
    expect(() => zeros([2, 2]).tril(0.5)).toThrow('tril: k must be an integer, got 0.5');
  });

  test('boolean and number scalars still work, as in PyTorch', async () => {
    expect(await ones([2]).add(true).tolist()).toEqual([2, 2]);
    expect(await tensor([true, false]).logicalAnd(true).tolist()).toEqual([true, false]);
    expect(await ones([2]).add(NaN).tolist()).toEqual([NaN, NaN]);
  });

  test('tensor arguments must be tensors', () => {
    const t = ones([2], { device: 'cpu' });
    expect(() => cat([t, bad([1, 2])])).toThrow(
      'cat: tensors[1] must be a Tensor, got [1, 2] (wrap a list in tensor())',
    );
    expect(() => stack([t, bad(3)])).toThrow('stack: tensors[1] must be a Tensor, got 3');
    expect(() => cat(bad(t))).toThrow('cat: tensors must be a list of Tensors, got Tensor([2], f32, cpu)');
    expect(() => ones([3, 1]).matmul(bad([[1], [1], [1]]))).toThrow(
      'matmul: other must be a Tensor, got [[1], [1], [1]] (wrap a list in tensor())',
    );
    expect(() => t.outer(bad([1]))).toThrow('outer: other must be a Tensor, got [1]');
    expect(() => stack([zeros([2, 3]), zeros([3])])).toThrow(
      'stack: tensors must all have the same shape, got [2, 3], [3]',
    );
  });
});

describe('values stored into an integer dtype must fit it', () => {
  test('tensor and full refuse overflow, NaN and infinities; fractions truncate as PyTorch', async () => {
    expect(() => tensor([3e9], { dtype: 'i32' })).toThrow(
      'tensor: a value for i32 must be finite and within [-2147483648, 2147483647], got 3000000000',
    );
    expect(() => tensor([NaN], { dtype: 'i32' })).toThrow(
      'tensor: a value for i32 must be finite and within [-2147483648, 2147483647], got NaN',
    );
    expect(() => tensor([-1], { dtype: 'u32' })).toThrow(
      'tensor: a value for u32 must be finite and within [0, 4294967295], got -1',
    );
    expect(() => tensor(new Float32Array([Infinity]), { dtype: 'u32' })).toThrow(
      'tensor: a value for u32 must be finite and within [0, 4294967295], got Infinity',
    );
    expect(() => full([2], 1e10, { dtype: 'i32' })).toThrow(
      'full: a value for i32 must be finite and within [-2147483648, 2147483647], got 10000000000',
    );
    expect(() => zeros([2], { dtype: 'i32' }).pad([1, 0], NaN)).toThrow(
      'pad: a value for i32 must be finite and within [-2147483648, 2147483647], got NaN',
    );
    expect(() => arange(2e9, 3e9, 5e8)).toThrow(
      'arange: a value for i32 must be finite and within [-2147483648, 2147483647], got 2500000000',
    );
    expect(await tensor([2.7, -2.7, 2147483647.5], { dtype: 'i32' }).tolist()).toEqual([2, -2, 2147483647]);
    expect(await tensor([4294967295, -0.5], { dtype: 'u32' }).tolist()).toEqual([4294967295, 0]);
    expect(await tensor([NaN, 0], { dtype: 'bool' }).tolist()).toEqual([true, false]); // bool(nan) is True
  });
});

describe('nested data', () => {
  test('the widest kind decides the dtype: bool < number (numbers are f32 here)', async () => {
    const a = tensor([true, 2.5]);
    expect(a.dtype).toBe('f32');
    expect(await a.tolist()).toEqual([1, 2.5]);
    const b = tensor([[false], [2]]);
    expect(b.dtype).toBe('f32');
    expect(await b.tolist()).toEqual([[0], [2]]);
    expect(tensor([true, false]).dtype).toBe('bool');
    expect(tensor([]).dtype).toBe('f32');
  });

  test('deep or self-containing nesting is an error, not a stack overflow or a hang', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 10000; i++) deep = [deep];
    expect(() => tensor(bad(deep))).toThrow('tensor: nested arrays must be at most 1000 levels deep, got more');
    const loop: unknown[] = [];
    loop.push(loop);
    expect(() => tensor(bad(loop))).toThrow('tensor: nested arrays must be at most 1000 levels deep, got more');
  });
});

describe('where PyTorch refuses', () => {
  test('repeated flip dims', () => {
    expect(() => zeros([2, 3]).flip(0, -2)).toThrow(
      'flip: axes must be distinct, got [0, -2] (dim 0 appears more than once)',
    );
  });
  test('repeated reduce axes', () => {
    expect(() => zeros([2, 3]).sum([0, 0])).toThrow(
      'sum: axes must be distinct, got [0, 0] (dim 0 appears more than once)',
    );
    expect(() => zeros([2, 3]).mean([1, -1])).toThrow(
      'mean: axes must be distinct, got [1, -1] (dim 1 appears more than once)',
    );
    expect(() => zeros([2, 3]).var([1, -1])).toThrow('var: axes must be distinct');
  });

  test('softmax of integers, where with a numeric condition, floorDiv and remainder of bools', () => {
    expect(() => zeros([2], { dtype: 'i32' }).softmax()).toThrow(
      'softmax: input must be a float tensor, got i32 (cast it first)',
    );
    expect(() => zeros([2], { dtype: 'bool' }).logSoftmax()).toThrow(
      'logSoftmax: input must be a float tensor, got bool (cast it first)',
    );
    expect(() => where(ones([2]), 1, 0)).toThrow(
      'where: condition must be a bool tensor, got f32 (compare first, e.g. x.gt(0))',
    );
    expect(() => ones([2]).maskedFill(ones([2], { dtype: 'i32' }), 0)).toThrow(
      'maskedFill: mask must be a bool tensor, got i32 (compare first, e.g. x.gt(0))',
    );
    const b = tensor([true, false]);
    expect(() => b.floorDiv(b)).toThrow('floorDiv: dtype must be a number type, got bool (cast to i32 first)');
    expect(() => b.remainder(true)).toThrow('remainder: dtype must be a number type, got bool (cast to i32 first)');
    expect(b.floorDiv(2).dtype).toBe('i32'); // an int operand lifts the bool: allowed, as PyTorch
  });

  test('transpose takes two dims; expand keeps no -1 for a new leading dim', () => {
    const t = zeros([3, 4]);
    expect(() => t.expand([-1, 3, 4])).toThrow(
      'expand: size -1 keeps an existing dim, but dim 0 of [-1, 3, 4] is a new leading one',
    );
    expect(() => t.transpose(bad(undefined), bad(undefined))).toThrow(
      'transpose: expected two dims (d0, d1), got 0 (x.T reverses all)',
    );
    expect(() => t.transpose(0, bad(undefined))).toThrow(
      'transpose: expected two dims (d0, d1), got 1 (x.T reverses all)',
    );
  });
});

describe('random options', () => {
  test('rand and randn make floats only', () => {
    expect(() => rand([2], { dtype: 'i32' })).toThrow(
      'rand: dtype must be a float dtype (f32, f16 or bf16), got "i32"',
    );
    expect(() => randn([2], { dtype: 'bool' })).toThrow(
      'randn: dtype must be a float dtype (f32, f16 or bf16), got "bool"',
    );
    expect(rand([2], { dtype: 'f16' }).dtype).toBe('f16');
  });

  test('seeds are integers in [0, 2^32) or 0-d integer tensors', async () => {
    for (const seed of [-1, 1.5, 2 ** 33, NaN])
      expect(() => rand([2], { seed })).toThrow(
        `rand: seed must be an integer in [0, 2^32) or a 0-d i32/u32 tensor, got ${seed}`,
      );
    expect(() => randn([2], { seed: bad('abc') })).toThrow(
      'randn: seed must be an integer in [0, 2^32) or a 0-d i32/u32 tensor, got "abc"',
    );
    expect(() => randint(0, 3, [2], { seed: zeros([2], { dtype: 'i32' }) })).toThrow(
      'randint: a tensor seed must be a 0-d i32 or u32 tensor (a variable), got i32 [2]',
    );
    expect(() => manualSeed(-1)).toThrow('manualSeed: seed must be an integer in [0, 2^32)');
    expect(await rand([3], { seed: 2 ** 32 - 1 }).data()).toHaveLength(3);
  });

  test('randint: integer bounds that fit the dtype', () => {
    expect(() => randint(0.5, 3.5, [3])).toThrow('randint: low and high must be integers, got 0.5 and 3.5');
    expect(() => randint(0, 2 ** 40, [3])).toThrow(
      'randint: low and high - 1 must fit in i32 [-2147483648, 2147483647], got 0 and 1099511627775',
    );
    expect(() => randint(-1, 3, [3], { dtype: 'u32' })).toThrow(
      'randint: low and high - 1 must fit in u32 [0, 4294967295], got -1 and 2',
    );
  });
});

describe.each(backends)('randint on %s', (device) => {
  test('randint: a wide range stays in range and spreads over it (no intermediate overflows)', async () => {
    for (const [low, high, dtype] of [
      [0, 2 ** 31, 'i32'],
      [-(2 ** 31), 2 ** 31, 'i32'],
      [-5, 2 ** 30, 'i32'],
      [2 ** 31, 2 ** 32, 'u32'],
      [0, 2 ** 32, 'u32'],
      [2 ** 32 - 10, 2 ** 32 - 1, 'u32'],
      [-(2 ** 31), 5 - 2 ** 31, 'i32'],
    ] as const) {
      const r = Array.from(await randint(low, high, [2000], { seed: 5, dtype, device }).data());
      expect(r.every((v) => Number.isInteger(v) && v >= low && v < high)).toBe(true);
      // spread over the range, not stuck at one end (a mean within a few % of the middle)
      const mean = r.reduce((a, b) => a + b, 0) / r.length;
      expect(Math.abs(mean - (low + high - 1) / 2) / (high - low)).toBeLessThan(0.05);
    }
  });
});

describe('var and std options', () => {
  test('correction and unbiased are checked; giving both is an error', () => {
    expect(() => ones([3]).var(undefined, { correction: 1, unbiased: true })).toThrow(
      'var: give correction or unbiased, not both (got correction 1, unbiased true)',
    );
    expect(() => ones([3]).std(undefined, { unbiased: bad('no') })).toThrow(
      'std: unbiased must be a boolean, got "no"',
    );
    expect(() => ones([3]).var(undefined, { correction: NaN })).toThrow(
      'var: correction must be a finite number, got NaN',
    );
  });
});

describe.each(backends)('var and std on %s (PyTorch semantics)', (device) => {
  test('unbiased: false is correction 0; true is correction 1', async () => {
    const x = tensor([1, 2, 3, 6], { device }); // mean 3, squared deviations 4 + 1 + 0 + 9 = 14
    expect(await x.var(undefined, { unbiased: false }).item()).toBeCloseTo(14 / 4, 6);
    expect(await x.var(undefined, { unbiased: true }).item()).toBeCloseTo(14 / 3, 6);
    expect(await x.std(undefined, { unbiased: false }).item()).toBeCloseTo(Math.sqrt(14 / 4), 6);
    expect(await x.var(0, { correction: 2 }).item()).toBeCloseTo(14 / 2, 6);
  });

  test('no divisor left: NaN where the squared deviations sum to 0, inf elsewhere', async () => {
    expect(await tensor([1], { device }).var().item()).toBeNaN(); // torch.tensor([1.]).var() -> nan
    expect(await tensor([1, 2], { device }).var(undefined, { correction: 2 }).item()).toBe(Infinity);
    expect(await tensor([1, 2], { device }).var(undefined, { correction: 5 }).item()).toBe(Infinity); // not -inf
    expect(await tensor([3, 3], { device }).var(undefined, { correction: 2 }).item()).toBeNaN();
    expect(
      await tensor([[1], [4]], { device })
        .std(1)
        .tolist(),
    ).toEqual([NaN, NaN]);
    expect(await zeros([0], { device }).var().item()).toBeNaN();
    const rows = await tensor(
      [
        [1, 1],
        [1, 3],
      ],
      { device },
    )
      .var(1, { correction: 2 })
      .tolist();
    expect(rows).toEqual([NaN, Infinity]);
  });
});
