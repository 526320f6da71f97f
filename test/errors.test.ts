// Bad input fails where it is first seen, naming the op, the shapes/dtypes and what was expected.
import { describe, expect, test } from 'vitest';
import { inspect } from 'node:util';
import { CpuBackend, arange, cat, full, randn, registerDevice, tensor, zeros } from '../index.js';
import { live } from './live.js';

describe('errors', () => {
  test('shapes that cannot broadcast', () => {
    expect(() => zeros([2, 3]).add(zeros([4]))).toThrow('add: shapes [2, 3] and [4] cannot broadcast');
    expect(() => zeros([2, 3]).matmul(zeros([4, 5]))).toThrow('matmul: inner dims differ: [2, 3] @ [4, 5] (3 vs 4)');
    expect(() => zeros([2, 3]).reshape([4, 2])).toThrow('reshape: cannot view shape [2, 3] (6 elements) as [4, 2]');
    expect(() => zeros([1, 4, 8, 8]).conv2d(zeros([8, 3, 3, 3]))).toThrow(
      'conv2d: weight has 3 input channels per group but input has 4 (input [1, 4, 8, 8], weight [8, 3, 3, 3], ' +
        'groups 1)',
    );
  });

  test('axes out of range', () => {
    expect(() => zeros([2, 3]).sum(3)).toThrow('sum: axis 3 is out of range for a tensor with 2 dims');
    expect(() => cat([zeros([]), zeros([])])).toThrow(
      'cat: a 0-d tensor cannot be concatenated (use stack, or reshape to [1])',
    );
    expect(() => arange(-3, 5, -1)).toThrow('arange: the range [-3, 5) is inconsistent with the sign of step -1');
    expect(() => zeros([2], { dtype: 'i32' }).pow(-2)).toThrow(
      'pow: integers to negative integer powers are not allowed (i32 tensor ** -2); cast to f32 first for a float ' +
        'result',
    );
    expect(() => zeros([2, 3]).softmax(-3)).toThrow('softmax: axis -3 is out of range for a tensor with 2 dims');
    expect(() => zeros([2, 3]).permute(0, 0)).toThrow('permute: [0, 0] is not a permutation of the 2 dims of [2, 3]');
  });

  test('a dtype the device lacks', () => {
    registerDevice(new CpuBackend('cpu-nof16', { dtypes: new Set(['f32', 'i32', 'u32', 'bool'] as const) }));
    expect(() => tensor([1, 2], { dtype: 'f16', device: 'cpu-nof16' })).toThrow(
      'tensor: dtype f16 is not supported on device cpu-nof16 (supported: f32, i32, u32, bool)',
    );
    expect(() => zeros([2], { device: 'cpu-nof16' }).cast('f16')).toThrow(
      'cast: dtype f16 is not supported on device cpu-nof16',
    );
  });

  test('reading or using a disposed tensor', async () => {
    const a = tensor([1, 2, 3]);
    a.dispose();
    await expect(a.data()).rejects.toThrow('data: tensor [3] (f32) was disposed');
    expect(() => a.add(1)).toThrow('add: tensor [3] (f32) was disposed');
    const b = tensor([1, 2, 3]);
    const lazy = b.exp();
    b.dispose();
    await expect(lazy.data()).rejects.toThrow(
      'realize: an input of shape [3] (f32) was disposed before the tensors computed from it',
    );
  });

  test('static indices out of range', () => {
    expect(() => zeros([3, 2]).select(0, 3)).toThrow('select: index 3 is out of range for dim 0 of [3, 2]');
    expect(() => zeros([3, 2]).narrow(1, 1, 2)).toThrow('narrow: [1, 3) is out of range for dim 1 of [3, 2]');
    expect(() => zeros([3, 2]).shrink([[0, 4], null])).toThrow(
      'shrink: range [0, 4) out of bounds for dim 0 of [3, 2]',
    );
  });

  test('a data-dependent index out of range fails the realize and leaks nothing', async () => {
    const weight = await randn([4, 3], { seed: 1 }).realize();
    const idx = tensor([1, 7, 2], { dtype: 'i32' });
    const before = live();
    await expect(idx.embedding(weight).data()).rejects.toThrow(
      /gather: index into dim 0 of \[4,3\]: index 7 is out of range \[0, 3\]/,
    );
    expect(live()).toEqual(before);
    expect(await tensor([3, 0], { dtype: 'i32' }).embedding(weight).tolist()).toHaveLength(2);
  });

  test('ragged nested arrays and wrong sizes', async () => {
    expect(() => tensor([[1, 2], [3]])).toThrow('tensor: ragged nested array at depth 1: expected length 2, got 1');
    expect(() => tensor(new Float32Array(5), { shape: [2, 3] })).toThrow('tensor: 5 values do not fill shape [2, 3]');
    await expect(zeros([2, 3]).item()).rejects.toThrow('item: tensor [2, 3] has 6 elements, expected 1');
  });

  test('shapes must hold non-negative integers; data must be numbers', () => {
    expect(() => zeros([2, -1])).toThrow('zeros: shape [2, -1] must hold non-negative integers (-1 is not one)');
    expect(() => zeros([NaN])).toThrow('zeros: shape [NaN] must hold non-negative integers (NaN is not one)');
    expect(() => randn([2.5])).toThrow('randn: shape [2.5] must hold non-negative integers (2.5 is not one)');
    expect(() => zeros(['3'] as unknown as number[])).toThrow(
      'zeros: shape ["3"] must hold non-negative integers ("3" is not one)',
    );
    expect(() => full(3 as unknown as number[], 1)).toThrow('full: shape must be a list of sizes, got 3');
    expect(() => tensor(new Float32Array(4), { shape: [2, -2] })).toThrow(
      'tensor: shape [2, -2] must hold non-negative integers',
    );
    expect(() => tensor('abc' as unknown as number[])).toThrow('tensor: expected numbers or booleans, got "abc"');
    expect(() => tensor([1, '2'] as unknown as number[])).toThrow('tensor: expected numbers or booleans, got "2"');
    expect(zeros([0, 3]).shape).toEqual([0, 3]);
  });

  test(
    'util.inspect shows shape, dtype, device, whether the tensor is computed, and its values once it ' + 'is',
    async () => {
      const t = randn([2, 3]);
      expect(inspect(t)).toBe('Tensor([2, 3], f32, cpu, lazy)');
      await t.realize();
      const v = Array.from(await t.data(), (x) => x.toFixed(4));
      expect(inspect(t)).toBe(
        `Tensor([2, 3], f32, cpu, realized) [[${v.slice(0, 3).join(', ')}], [${v.slice(3).join(', ')}]]`,
      );
      t.dispose();
      expect(inspect(t)).toBe('Tensor([2, 3], f32, cpu, disposed)');
      // long dimensions are summarized; integers and booleans print as such
      const r = arange(10).reshape([1, 10]).cast('i32');
      await r.realize();
      expect(inspect(r)).toBe('Tensor([1, 10], i32, cpu, realized) [[0, 1, 2, …, 7, 8, 9]]');
      const b = tensor([true, false]);
      await b.realize();
      expect(inspect(b)).toBe('Tensor([2], bool, cpu, realized) [true, false]');
    },
  );
});
