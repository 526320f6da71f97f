// Bad sizes to the NN ops are one-line errors naming the argument: a zero, negative or fractional kernel, stride,
// padding or dilation used to build infinite or fractional shapes (or, for a zero dilation, silently wrong numbers).
import { describe, expect, test } from 'vitest';
import { ones, zeros } from '../../index.js';

describe('NN ops refuse bad sizes', () => {
  const x = ones([1, 2, 4, 4]);
  test.each([
    [() => x.avgPool2d(0), 'avgPool2d: kernel must be an integer ≥ 1 or a pair of them, got 0'],
    [() => x.avgPool2d(-2), 'avgPool2d: kernel must be an integer ≥ 1 or a pair of them, got -2'],
    [() => x.maxPool2d(1.5), 'maxPool2d: kernel must be an integer ≥ 1 or a pair of them, got 1.5'],
    [() => x.maxPool2d(2, { stride: 0 }), 'maxPool2d: stride must be an integer ≥ 1 or a pair of them, got 0'],
    [() => x.maxPool2d(2, { dilation: [1, 0] }), 'maxPool2d: dilation must be an integer ≥ 1 or a pair of them'],
    [() => x.avgPool2d(2, { padding: -1 }), 'avgPool2d: padding must be an integer ≥ 0 or a pair of them, got -1'],
    [() => x.conv2d(ones([2, 2, 3, 3]), undefined, { dilation: 0 }), 'conv2d: dilation must be an integer ≥ 1'],
    [() => x.conv2d(ones([2, 2, 3, 3]), undefined, { stride: 1.5 }), 'conv2d: stride must be an integer ≥ 1'],
    [() => x.conv2d(ones([2, 2, 3, 3]), undefined, { groups: 0 }), 'conv2d: groups must be a positive integer, got 0'],
    [() => ones([1, 2, 8]).conv1d(ones([2, 2, 3]), undefined, { stride: 0 }), 'conv1d: stride must be an integer'],
    [() => x.interpolate({ scaleFactor: Number.NaN }), 'interpolate: scaleFactor must be a finite number above 0'],
    [() => x.interpolate({ size: [2.5, 4] }), 'interpolate: size must be a positive integer or a pair of them'],
    [() => x.groupNorm(0), 'groupNorm: groups must be a positive integer, got 0'],
    [() => zeros([2, 2, 1, 3]).matmul(zeros([3, 3, 4])), 'matmul: batch dims: shapes [2, 2] and [3] cannot broadcast'],
    [() => zeros([3, 4]).linear(zeros([5, 4]), zeros([4])), 'linear: bias [4] does not match 5 outputs'],
    [
      () => zeros([1, 3, 4]).scaledDotProductAttention(zeros([1, 5, 4]), zeros([1, 5, 2]), { attnMask: zeros([3, 4]) }),
      'scaledDotProductAttention: attnMask [3, 4] does not broadcast to [..., 3, 5]',
    ],
  ])('%#', (make, message) => {
    expect(make).toThrow(message);
  });
});
