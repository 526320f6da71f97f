// softmax_workgroup's online max/sum on rows a random case never has: masked (-inf) entries leading a row, where the
// running max starts at -inf; a row that is all -inf (NaN, as PyTorch gives); rows read through an offset, 4-aligned
// (vec4 loads) or not (scalar loads); a NaN where the running max is still -inf. Against a float64 softmax. 7, 12 and
// 40 rows: on a device with few threads (a software adapter) they take 256, 128 and 64 threads a row.
import { afterEach, expect, test } from 'vitest';
import { tensor } from '../../index.js';
import { kernelMode, setKernelMode } from '../../runtime/composite.js';
import { plan } from '../../runtime/plan.js';
import { seeded } from '../../kernels/check.js';
import { hasWebGpu } from '../backends.js';

const initial = kernelMode();
afterEach(() => setKernelMode(initial));

function softmax64(row: readonly number[]): number[] {
  const m = Math.max(...row),
    e = row.map((v) => Math.exp(v - m)),
    s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

test.skipIf(!hasWebGpu).each(
  [7, 12, 40].flatMap((rows) => [
    ['contiguous rows (vec4)', 0, rows],
    ['rows from a 4-aligned offset (vec4)', 4, rows],
    ['rows from an odd offset (scalar)', 3, rows],
  ]),
)('%s: masked entries, an all -inf row (offset %i, %i rows)', async (_, skip, rows) => {
  setKernelMode('custom');
  const n = 1024,
    data = Array.from(seeded(rows * n + skip, 7), (v) => v * 4);
  // row 0: its first 600 entries masked; row 1: every fourth; row 2: all; row 3: a NaN first, row 4: a NaN after
  // masked entries (both rows NaN, as PyTorch gives); rows 5, 6 untouched
  for (let j = 0; j < n; j++) {
    if (j < 600) data[skip + j] = -Infinity;
    if (j % 4 === 1) data[skip + n + j] = -Infinity;
    data[skip + 2 * n + j] = -Infinity;
    if (j < 300) data[skip + 4 * n + j] = -Infinity;
  }
  data[skip + 3 * n] = Number.NaN;
  data[skip + 4 * n + 300] = Number.NaN;
  const flat = tensor(Float32Array.from(data), { device: 'webgpu' });
  const x = flat.slice(0, skip, skip + rows * n).reshape([rows, n]);
  const y = x.softmax(-1);
  expect(
    plan(y)
      .map((k) => k.name)
      .some((name) => name.startsWith('c_softmax_workgroup')),
  ).toBe(true);
  const got = await y.data(),
    x32 = Array.from(Float32Array.from(data)).slice(skip);
  for (let r = 0; r < rows; r++) {
    const want = softmax64(x32.slice(r * n, (r + 1) * n));
    for (let j = 0; j < n; j++) {
      const g = got[r * n + j]!,
        w = want[j]!;
      if (Number.isNaN(w)) expect(g, `row ${r} [${j}]`).toBeNaN();
      else expect(Math.abs(g - w), `row ${r} [${j}]`).toBeLessThanOrEqual(1e-6 * (1 + w));
    }
  }
});
