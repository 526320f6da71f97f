// BEAM search: the winner computes what the float64 reference does, is remembered on disk per (kernel, device,
// version), and a cache hit compiles the remembered list without timing anything; a corrupt or foreign cache file
// is ignored with one warning. DEBUG=3 says where each kernel's actions came from.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import type { Backend } from '../../backends/backend.js';
import { formatOpts } from '../../codegen/actions.js';
import { optimize } from '../../codegen/heuristic.js';
import type { Kernel, Opt } from '../../codegen/kernel.js';
import { beamSearch, canonical } from '../../codegen/search.js';
import { getDevice, setDebug, tensor } from '../../index.js';
import { beamStats, reloadBeamCache, search, setBeam, setBeamBudget } from '../../runtime/beam.js';
import { plan } from '../../runtime/plan.js';
import { version } from '../../runtime/version.js';
import { backends } from '../backends.js';
import { uniform } from '../ops/nd.js';
import * as R from '../ops/ref.js';

const dir = mkdtempSync(join(tmpdir(), 'polygrad-beam-'));
const file = join(dir, 'beam.json');
const saved = process.env.POLYGRAD_CACHE;
beforeAll(async () => {
  process.env.POLYGRAD_CACHE = dir;
  await reloadBeamCache();
  setBeamBudget(3);
});
afterAll(async () => {
  setBeam(0);
  if (saved === undefined) delete process.env.POLYGRAD_CACHE;
  else process.env.POLYGRAD_CACHE = saved;
  await reloadBeamCache();
});

const a = uniform([24, 40], 1),
  b = uniform([40, 28], 2);
/** A matmul (one reduce kernel) on the device, with the DEBUG=3 lines its compiles print. */
async function matmul(device: string): Promise<{ got: Float32Array; lines: string[] }> {
  const lines: string[] = [],
    log = vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
  setDebug(3);
  try {
    const t = (x: typeof a) => tensor(Float32Array.from(x.data), { shape: [...x.shape], device });
    return { got: (await t(a).matmul(t(b)).data()) as Float32Array, lines };
  } finally {
    setDebug(0);
    log.mockRestore();
  }
}
const want = R.matmul(a, b).data;
const close = (got: Float32Array): number =>
  got.reduce((n, g, i) => n + (Math.abs(g - want[i]!) <= 1e-4 + 1e-4 * Math.abs(want[i]!) ? 0 : 1), 0);

describe.each(backends)('BEAM on %s', (device) => {
  test('a search times candidates, its winner matches float64 and lands in the cache file', async () => {
    setBeam(2);
    const before = { ...beamStats };
    const { got, lines } = await matmul(device);
    expect(close(got)).toBe(0);
    expect(beamStats.searches).toBeGreaterThan(before.searches);
    expect(beamStats.timed - before.timed).toBeGreaterThan(2);
    expect(
      lines.some((l) => /^r_matmul\S*: .* \(search\)$/.test(l)),
      lines.join('\n'),
    ).toBe(true);
    const disk = JSON.parse(readFileSync(file, 'utf8')) as {
      version: string;
      devices: Record<string, Record<string, { name: string }>>;
    };
    expect(disk.version).toBe(version);
    const mine = Object.entries(disk.devices).find(([d]) => d.startsWith(`${device}: `))?.[1] ?? {};
    expect(Object.values(mine).map((e) => e.name)).toContain(
      lines.find((l) => l.startsWith('r_matmul'))!.split(':')[0],
    );
  }, 120_000);

  test('a cache hit compiles the remembered actions without timing', async () => {
    setBeam(0);
    setBeam(2); // a new choice rule: every kernel compiles again
    await reloadBeamCache(); // as a new process would
    const before = { ...beamStats };
    const { got, lines } = await matmul(device);
    expect(close(got)).toBe(0);
    expect(beamStats).toEqual(before);
    expect(
      lines.some((l) => /^r_matmul\S*: .* \(cache\)$/.test(l)),
      lines.join('\n'),
    ).toBe(true);
  }, 120_000);
});

describe('the cache file', () => {
  const warnings = async (contents: string): Promise<string[]> => {
    writeFileSync(file, contents);
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      await reloadBeamCache();
      return warn.mock.calls.map((c) => String(c[0]));
    } finally {
      warn.mockRestore();
    }
  };
  test('a corrupt file is ignored with one warning, and the next search writes a good one', async () => {
    const w = await warnings('{"format": 1, "devi');
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/^polygrad: ignoring the beam cache .*beam\.json: /);
    setBeam(0);
    setBeam(1);
    const before = beamStats.searches;
    await matmul('cpu');
    expect(beamStats.searches).toBeGreaterThan(before);
    expect((JSON.parse(readFileSync(file, 'utf8')) as { format: number }).format).toBe(1);
  }, 120_000);
  test('an entry whose actions are not actions is ignored: the kernel is searched again, not broken', async () => {
    const good = JSON.parse(readFileSync(file, 'utf8')) as {
      devices: Record<string, Record<string, { opts: unknown }>>;
    };
    for (const [i, bad] of [[{ op: 'BOGUS', axis: 0, amount: 2 }], [null], 'UPCAST'].entries()) {
      for (const entries of Object.values(good.devices)) for (const e of Object.values(entries)) e.opts = bad;
      writeFileSync(file, JSON.stringify(good));
      await reloadBeamCache();
      setBeam(0);
      setBeam(1);
      const before = beamStats.searches;
      const { got } = await matmul('cpu');
      expect(close(got), `tampered entry ${i}`).toBe(0);
      expect(beamStats.searches, `tampered entry ${i}`).toBeGreaterThan(before);
    }
  }, 120_000);
  test('a file from another polygrad version is ignored with one warning naming both versions', async () => {
    const w = await warnings(JSON.stringify({ format: 1, version: '0.0.1', devices: {} }));
    expect(w).toHaveLength(1);
    expect(w[0]).toContain(`made by polygrad 0.0.1, this is ${version}`);
  });
  test('the version is the package version', () => {
    expect(version).toBe(
      (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version,
    );
  });
  test('a bad BEAM setting is an error naming it', () => {
    expect(() => setBeam(-1)).toThrow('setBeam=-1: expected an integer ≥ 0');
    expect(() => setBeam(1.5)).toThrow('expected an integer');
  });
});

describe('what a search may choose', () => {
  const [k] = plan(
    tensor(Float32Array.from(a.data), { shape: [...a.shape] }).matmul(
      tensor(Float32Array.from(b.data), { shape: [...b.shape] }),
    ),
  ) as [Kernel];
  const cpu = getDevice('cpu');

  test('a list whose outputs differ from the unoptimized kernel is never chosen, however fast', async () => {
    // a device that skips the work of every list but the heuristic's and none: those lists are the fastest there
    // are (nothing runs) and leave their outputs as zeros, so a search that timed them unchecked would pick one
    const trusted = new Set(['none', formatOpts(canonical(optimize(k, cpu.caps).opts ?? []))]);
    let skipped = 0;
    const lying: Backend = {
      name: cpu.name,
      caps: cpu.caps,
      language: cpu.language,
      description: cpu.description,
      alloc: (n) => cpu.alloc(n),
      free: (x) => cpu.free(x),
      write: (x, d, o) => cpu.write(x, d, o),
      read: (x) => cpu.read(x),
      compile: (kk, src) => cpu.compile(kk, src),
      launch: (p, kk, bufs, vals, timed) => {
        if (trusted.has(formatOpts(canonical(kk.opts ?? [])))) cpu.launch(p, kk, bufs, vals, timed);
        else skipped++;
      },
      sync: () => cpu.sync(),
      takeTimes: () => cpu.takeTimes(),
    };
    const r = await search(lying, k, 2);
    expect(r).toBeDefined();
    expect(skipped).toBeGreaterThan(0); // lists that skip their work were measured: none of them won
    expect(trusted).toContain(formatOpts(r!.opts));
  }, 120_000);

  test('the time budget ends a search that would go on, and the best list timed so far is its result', async () => {
    // every action halves a list's time, so each round finds a faster list and only the budget (or running out of
    // lists) ends the search; each timing moves a fake clock on by 1 ms
    const searchFor = async (budgetMs: number) => {
      let clock = 0;
      const times: number[] = [];
      const measure = async (opts: readonly Opt[]): Promise<number> => {
        clock += 1;
        times.push(100 / 2 ** opts.length);
        return times.at(-1)!;
      };
      const r = await beamSearch(k, cpu.caps, [[]], 2, budgetMs, measure, () => clock);
      return { r: r!, times };
    };
    const short = await searchFor(5);
    expect(short.r.outOfTime).toBe(true);
    expect(short.times).toHaveLength(6); // timings started at 0..5 ms: the one that would start at 6 ms is not run
    expect(short.r.tried).toBe(6);
    expect(short.r.ms).toBe(Math.min(...short.times));
    const long = await searchFor(1e9);
    expect(long.r.outOfTime).toBe(false);
    expect(long.r.tried).toBeGreaterThan(6);
    expect(long.r.ms).toBeLessThan(short.r.ms);
  });
});
