import { expect, test } from 'vitest';
import { tensor, setDebug, arange, rand, randn } from '../index.js';

test('smoke', async () => {
  setDebug(4);
  const a = tensor([[1, 2, 3], [4, 5, 6]]);
  const b = tensor([10, 20, 30]);
  console.log(await a.add(b).mul(2).relu().sum(1).tolist());
  console.log(await a.matmul(a.T).tolist());
  console.log(await a.softmax(-1).tolist());
  console.log(await arange(5).tolist());
  console.log(await rand([4], {seed: 1}).tolist(), await randn([4], {seed: 1}).tolist());
  setDebug(0);
  expect(1).toBe(1);
});
