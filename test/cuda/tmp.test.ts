import { test, expect } from 'vitest';
import { randn, tensor, arange, rand } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { compileAll } from './nvcc.js';
test('nvcc', async () => {
  const x = await randn([2, 4, 8, 8]).realize(), w = await randn([6, 4, 3, 3]).realize();
  const h = tensor([1, 2, 3], {dtype: 'f16'}), i = tensor([1, -2, 3], {dtype: 'i32'});
  const ks = [
    ...plan(x.conv2d(w, undefined, {padding: 1}).silu()), ...plan(x.softmax(-1)), ...plan(x.groupNorm(2).gelu()),
    ...plan(h.mul(2).exp().cast('f32').add(h.sqrt().cast('f32'))), ...plan(i.floorDiv(2).add(i.remainder(-2))), ...plan(rand([5]).max()),
    ...plan(x.maxPool2d(2)), ...plan(x.tanh().argmax(1)), ...plan(tensor([1, 0, 2], {dtype: 'i32'}).embedding(await randn([3, 4]).realize())),
    ...plan(x.gt(0).logicalNot()), ...plan(h.max().add(h.min())),
  ];
  const names = compileAll(ks);
  console.log(names);
  expect(names.length).toBeGreaterThan(5);
});
