// The differential fuzzer, bounded: fixed seeds of random op graphs on every backend, eager and jitted, against the
// float64 reference and the CPU backend; every minimized failure ever written to test/fuzz/regressions/ is replayed
// on every backend. `npm run fuzz` runs more seeds (and writes new regressions).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { backends } from './backends.js';
import { failure, fuzzCase, minimize, reproduce } from './fuzz/fuzz.js';
import { type Program, compare, generate, reference, run, shapeOf } from './fuzz/program.js';

const SEEDS = 40,
  SIZE = 10;

describe.each(backends)('fuzz on %s', (device) => {
  test.each([false, true])(
    `${SEEDS} random programs (jit %s) match float64 and the CPU backend`,
    async (jit) => {
      const failed: string[] = [];
      for (let seed = 1; seed <= SEEDS; seed++) {
        const c = { seed, device, jit, size: SIZE },
          f = await fuzzCase(c);
        if (f) failed.push(`${f.why} (again: ${reproduce(c)})`);
      }
      expect(failed).toEqual([]);
    },
    300_000,
  );

  const dir = join('test', 'fuzz', 'regressions');
  const files = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.json')) : [];
  test.runIf(files.length > 0)(
    'every recorded regression passes',
    async () => {
      for (const file of files) {
        const { program, jit } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
          program: Program;
          jit: boolean;
        };
        expect(await failure(program, device, jit), file).toBeUndefined();
      }
    },
    300_000,
  );
});

describe('fuzzer', () => {
  test('programs are reproducible by seed and varied', () => {
    expect(generate(7, 10)).toEqual(generate(7, 10));
    const ops = new Set<string>();
    for (let seed = 1; seed <= 60; seed++)
      for (const n of generate(seed, 10).nodes) ops.add('fn' in n ? `${n.op}:${n.fn}` : n.op);
    for (const op of [
      'matmul',
      'conv2d',
      'reduce:sum',
      'reduce:max',
      'permute',
      'pad',
      'shrink',
      'flip',
      'expand',
      'unary:f16',
      'unary:bf16',
      'unary:i32',
      'binary:where',
    ]) {
      expect(ops.has(op), op).toBe(true);
    }
  });

  test('the reference disagrees with a wrong answer, and a failure is minimized to what still fails', async () => {
    const p = generate(11, 12),
      want = reference(p),
      got = await run(p, { device: 'cpu', jit: false });
    expect(compare(p, got, want)).toBeUndefined();
    const scale = want[0]!.data.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
    got[0]![got[0]!.length >> 1]! += 1e-3 * scale; // one element off by 0.1% of the output's scale
    expect(compare(p, got, want)).toMatch(/^output 0 .*: got .*, want /);
    // a stand-in bug: any program that still holds a matmul "fails"; the minimizer must keep one and drop the rest
    const seed = [...Array(200).keys()].find((s) => generate(s, 12).nodes.some((n) => n.op === 'matmul'))!;
    const program = generate(seed, 12);
    const fails = async (q: Program) => (q.nodes.some((n) => n.op === 'matmul') ? 'has a matmul' : undefined);
    const small = await minimize({ seed, device: 'cpu', jit: false, size: 12, why: 'has a matmul', program }, fails);
    // what is left: the matmul, after the reshape that makes a 1-d left operand a row where there is one
    expect(
      small.program.nodes
        .filter((n) => n.op !== 'input')
        .map((n) => n.op)
        .join(),
    ).toMatch(/^(reshape,)?matmul$/);
    expect(small.program.nodes.length).toBeLessThan(program.nodes.length);
    expect(shapeOf(small.program, small.program.outputs[0]!)).toHaveLength(2);
  });
});
