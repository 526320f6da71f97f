// The index simplifier must never change a value: random expressions of ranges, constants, +, *, // and %
// (as reshapes, pads and windows produce them) are built through the folding constructors and compared,
// at every point of their ranges, with the same formula evaluated literally (C truncating division).
import { describe, expect, test } from 'vitest';
import { alu, evalAlu } from '../../codegen/alu.js';
import { type AluOp, UOp, constOf } from '../../codegen/uop.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Evaluates a UOp literally at an assignment of its ranges. */
function evaluate(u: UOp, env: Map<UOp, number>): number {
  if (u.op === 'CONST') return Number(u.constValue);
  if (u.op === 'RANGE') return env.get(u)!;
  return Number(
    evalAlu(
      u.op as AluOp,
      u.dtype,
      u.src.map((s) => evaluate(s, env)),
      u.src[0]!.dtype,
    ),
  );
}

const trunc = (a: number, b: number): number => Math.trunc(a / b);

describe('index simplification', () => {
  test('folding never changes the value (3000 random expressions, every point of their ranges)', () => {
    const r = rng(7);
    let checked = 0;
    const pick = (n: number) => Math.floor(r() * n);
    for (let trial = 0; trial < 3000; trial++) {
      const ranges = Array.from({ length: 1 + pick(3) }, (_, i) =>
        UOp.make('RANGE', 'i32', [], { id: i, extent: 1 + pick(12), kind: 'global' }),
      );
      // build a random expression twice: as folded UOps and as a literal JS function
      const gen = (depth: number): [UOp, (v: number[]) => number] => {
        const k = pick(depth > 2 ? 2 : 6);
        if (k === 0) {
          const i = pick(ranges.length);
          return [ranges[i]!, (v) => v[i]!];
        }
        if (k === 1) {
          const c = pick(9) - 2;
          return [constOf(c, 'i32'), () => c];
        }
        const [a, fa] = gen(depth + 1);
        if (k === 2) {
          const [b, fb] = gen(depth + 1);
          return [alu('ADD', [a, b]), (v) => fa(v) + fb(v)];
        }
        if (k === 3) {
          const c = pick(7) - 1;
          return [alu('MUL', [a, constOf(c, 'i32')]), (v) => fa(v) * c];
        }
        const d = 1 + pick(8);
        if (k === 4) return [alu('IDIV', [a, constOf(d, 'i32')]), (v) => trunc(fa(v), d)];
        return [alu('MOD', [a, constOf(d, 'i32')]), (v) => fa(v) % d];
      };
      const [expr, literal] = gen(0);
      const points = ranges.reduce((n, x) => n * x.range.extent, 1);
      for (let p = 0; p < points; p++) {
        let rest = p;
        const v = ranges.map((x) => {
          const i = rest % x.range.extent;
          rest = Math.floor(rest / x.range.extent);
          return i;
        });
        const env = new Map(ranges.map((x, i) => [x, v[i]!] as [UOp, number]));
        const got = evaluate(expr, env),
          want = literal(v) | 0;
        if (got !== want)
          throw new Error(`trial ${trial}: at ${v} the simplified expression gives ${got}, the formula ${want}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30_000);
  });

  test('reshape round trips simplify to the plain index', () => {
    const g = UOp.make('RANGE', 'i32', [], { id: 0, extent: 24, kind: 'global' });
    const c = (v: number) => constOf(v, 'i32');
    // [24] -> [6, 4] -> [24]: 4*(g//4) + g%4 == g
    expect(alu('ADD', [alu('MUL', [alu('IDIV', [g, c(4)]), c(4)]), alu('MOD', [g, c(4)])])).toBe(g);
    // (16a + 4b + c) // 32 over a in [0,8), b, c in [0,4): a // 2, so it no longer mentions b and c
    const [a, b, cc] = [8, 4, 4].map((n, i) => UOp.make('RANGE', 'i32', [], { id: i + 1, extent: n, kind: 'global' }));
    const e = alu('IDIV', [alu('ADD', [alu('ADD', [alu('MUL', [a!, c(16)]), alu('MUL', [b!, c(4)])]), cc!]), c(32)]);
    expect(e).toBe(alu('IDIV', [a!, c(2)]));
  });
});
