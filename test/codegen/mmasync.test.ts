// mma.sync's operands are loaded by ldmatrix as the fragment layout data says (codegen/mmasync.ts). For m16n8k16's A
// and B, in both memory orders, the load matrixLoad derives gives every lane, by the PTX ISA's formulas for ldmatrix,
// exactly the elements the layout says the lane holds; layouts ldmatrix cannot load are refused with the reason. At
// the pitches TC stages chunks at, the 8 rows each ldmatrix phase reads are in 8 different 16-byte bank groups.
// (The emulated CUDA runs of test/codegen/tensorcore.test.ts check the same through whole matmuls.)
import { describe, expect, test } from 'vitest';
import type { FragmentLayout } from '../../backends/backend.js';
import { m16n8k16, matrixLoad, mmaSyncHelpers } from '../../codegen/mmasync.js';
import { chunkPitch } from '../../codegen/tensorcore.js';

type Stride = (step: readonly [number, number]) => number;

/** Where the layout puts element e of lane l, in memory laid out by ld. */
const layoutAt = (f: FragmentLayout, ld: Stride, lane: number, e: number): number =>
  f.lane.reduce((s, st, j) => s + ((lane >> j) & 1 ? ld(st) : 0), 0) +
  f.elem.reduce((s, st, i) => s + ((e >> i) & 1 ? ld(st) : 0), 0);

/** The ISA's ldmatrix: the offset lane l's register j, half h, is read from, given each lane's row address. */
function ldmatrixAt(rows: readonly number[], trans: boolean, lane: number, j: number, h: number): number {
  const pair = 2 * (lane % 4) + h;
  return trans ? rows[8 * j + pair]! + Math.floor(lane / 4) : rows[8 * j + Math.floor(lane / 4)]! + pair;
}

describe('ldmatrix loads mma.sync fragments where the layout puts them', () => {
  const m = 32,
    n = 24;
  test.each([
    ['A, column-major (as staged)', m16n8k16.a, (([r, c]) => r + m * c) as Stride, 4, true],
    ['A, row-major', m16n8k16.a, (([r, c]) => r * 16 + c) as Stride, 4, false],
    ['B, row-major (as staged)', m16n8k16.b, (([r, c]) => r * n + c) as Stride, 2, true],
    ['B, column-major', m16n8k16.b, (([r, c]) => r + 16 * c) as Stride, 2, false],
  ] as const)('%s', (_, f, ld, count, trans) => {
    const x = matrixLoad(f, ld);
    if (typeof x === 'string') throw new Error(x);
    expect([x.count, x.trans]).toEqual([count, trans]);
    const rows = Array.from({ length: 32 }, (_, l) => x.origins[Math.floor(l / 8) % x.count]! + (l % 8) * x.rowStride);
    for (let lane = 0; lane < 32; lane++)
      for (let e = 0; e < 2 * count; e++)
        expect(ldmatrixAt(rows, trans, lane, e >> 1, e & 1)).toBe(layoutAt(f, ld, lane, e));
  });

  test.each([
    [
      'lanes permuted',
      { ...m16n8k16.a, lane: [m16n8k16.a.lane[1]!, m16n8k16.a.lane[0]!, ...m16n8k16.a.lane.slice(2)] },
      'lanes do not hold',
      16,
    ],
    ['rows 12 elements apart (not 16-byte aligned)', m16n8k16.a, 'not 16-byte aligned', 12],
    ['eight registers', { ...m16n8k16.a, elem: [...m16n8k16.a.elem, [0, 16]] }, 'more than one ldmatrix', 16],
  ] as const)('refused: %s', (_, f, why, ld: number) => {
    expect(matrixLoad(f as FragmentLayout, ([r, c]) => r + ld * c)).toContain(why);
  });
});

test('a listed mma.sync layout ldmatrix cannot load is named when rendering, with the reason', () => {
  const a = { ...m16n8k16.a, lane: [m16n8k16.a.lane[1]!, m16n8k16.a.lane[0]!, ...m16n8k16.a.lane.slice(2)] };
  const unit = { api: 'mma.sync', m: 16, n: 8, k: 16, input: 'f16', acc: 'f32', layout: { ...m16n8k16, a } } as const;
  expect(() => mmaSyncHelpers([unit])).toThrow(/ldmatrix cannot load A: its lanes do not hold[^;]*$/);
});

describe('ldmatrix reads staged chunks without bank conflicts', () => {
  /** The most rows of one 8-row phase (one matrix) that share a 16-byte group of the 32 4-byte banks. */
  function worstConflict(f: FragmentLayout, ld: Stride): number {
    const x = matrixLoad(f, ld);
    if (typeof x === 'string') throw new Error(x);
    return Math.max(
      ...x.origins.map((o) => {
        const groups = Array.from({ length: 8 }, (_, i) => (((o + i * x.rowStride) * 2) % 128) / 16);
        return Math.max(...groups.map((g) => groups.filter((h) => h === g).length));
      }),
    );
  }
  const a =
      (lda: number): Stride =>
      ([r, c]) =>
        r + lda * c,
    b =
      (ldb: number): Stride =>
      ([r, c]) =>
        r * ldb + c;
  test.each([16, 32, 48, 64, 128])('A of %i rows a chunk step, padded to chunkPitch', (m) => {
    expect(worstConflict(m16n8k16.a, a(chunkPitch(m, 2)))).toBe(1);
  });
  test.each([8, 16, 24, 32, 64])('B of %i columns a chunk step, padded to chunkPitch', (n) => {
    expect(worstConflict(m16n8k16.b, b(chunkPitch(n, 2)))).toBe(1);
  });
  test('unpadded, 16 and 32 rows a step conflict 2- and 4-way (what the padding is for)', () => {
    expect([worstConflict(m16n8k16.a, a(16)), worstConflict(m16n8k16.a, a(32))]).toEqual([2, 4]);
  });
});
