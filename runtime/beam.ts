// Which optimizer actions a kernel gets: those a contributed kernel pins, the heuristic's, or under BEAM=n the fastest
// list a beam search (codegen/search.ts) timed on this device. A search's winner is remembered in
// $POLYGRAD_CACHE/beam.json per (stable kernel key, device, polygrad version): a hit costs no timing, and the file
// is one a user can share for a GPU model.
import type { Backend, DeviceBuffer, Program } from '../backends/backend.js';
import { storageOf } from '../backends/backend.js';
import { formatOpts, invalidOpts } from '../codegen/actions.js';
import { type DType, isFloat, itemsize } from '../codegen/dtype.js';
import { optimize } from '../codegen/heuristic.js';
import { type Kernel, type Opt, kernelKey } from '../codegen/kernel.js';
import { linearize } from '../codegen/linearize.js';
import { render } from '../codegen/render.js';
import { beamSearch, canonical } from '../codegen/search.js';
import type { VarArg } from '../codegen/uop.js';
import { type TypedData, decode, encode } from './buffer.js';
import { readCache, writeCache } from './cachefile.js';
import { envFlag, inNode } from './debug.js';
import { version } from './version.js';

/** Searches run and action lists timed by them in this process (a cache hit adds to neither). */
export const beamStats = { searches: 0, timed: 0 };

/** Where a kernel's actions came from (DEBUG=3 says). */
export type OptSource = 'pinned' | 'heuristic' | 'cache' | 'search';
export interface Chosen {
  readonly kernel: Kernel;
  readonly from: OptSource;
}

/** A setting that must be a number ≥ 0 (an integer where `int`): anything else is an error naming it. */
const nonNegative = (name: string, v: unknown, int: boolean): number => {
  const n = Number(v);
  if (!(n >= 0) || (int && !Number.isInteger(n)))
    throw new Error(`${name}=${String(v)}: expected ${int ? 'an integer' : 'a number of seconds'} ≥ 0`);
  return n;
};
let width = nonNegative('BEAM', envFlag('BEAM') ?? 0, true);
let budgetMs = 1000 * nonNegative('BEAM_BUDGET', envFlag('BEAM_BUDGET') ?? 10, false);
let choice = 0;
/** BEAM=n: search `n` lists wide for every kernel compiled from now on (0: the heuristic). */
export function setBeam(n: number): void {
  width = nonNegative('setBeam', n, true);
  choice++;
}
export const beamWidth = (): number => width;
/** Seconds one kernel's search may take (BEAM_BUDGET, default 10). */
export function setBeamBudget(seconds: number): void {
  budgetMs = 1000 * nonNegative('setBeamBudget', seconds, false);
}
/** Changes whenever the rule that picks actions does: compile caches key on it. */
export const choiceKey = (): string => `${width}.${choice}`;

type Override = (k: Kernel, caps: Backend['caps']) => readonly Opt[] | undefined;
let override: Override | undefined;
/** @internal Tests: the actions every kernel gets from now on (validated like any), or undefined to stop. */
export function overrideOpts(f: Override | undefined): void {
  override = f;
  choice++;
}

// ---- the disk cache ----
/** A search's winner: its actions, its time and the heuristic's, and the beam width that found it. */
interface Entry {
  readonly name: string;
  readonly opts: readonly Opt[];
  readonly ms: number;
  readonly heuristicMs: number;
  readonly beam: number;
}
interface BeamFile {
  readonly format: 1;
  readonly version: string;
  readonly devices: Record<string, Record<string, Entry>>;
}
const fileName = 'beam.json';
const checkFile = (d: unknown): string | undefined => {
  const f = d as Partial<BeamFile> | null;
  if (typeof f !== 'object' || f === null || f.format !== 1 || typeof f.devices !== 'object')
    return 'not a polygrad beam cache';
  return f.version === version
    ? undefined
    : `made by polygrad ${String(f.version)}, this is ${version} (it will be replaced)`;
};
let tuned: Record<string, Record<string, Entry>> = (await readCache<BeamFile>(fileName, 'beam cache', checkFile))
  ?.devices ?? {};
/** @internal Reads the cache file again (tests point POLYGRAD_CACHE somewhere and change the file). */
export async function reloadBeamCache(): Promise<void> {
  tuned = (await readCache<BeamFile>(fileName, 'beam cache', checkFile))?.devices ?? {};
}
const deviceOf = (b: Backend): string => `${b.name}: ${b.description}`;

const hasher = await (async () => {
  if (!inNode) return undefined;
  return (await import(/* @vite-ignore */ 'node:crypto')) as typeof import('node:crypto');
})();
/** The cache key of a kernel: a digest of its structural key (kernelKey), equal across runs and processes. */
const digest = (k: Kernel): string | undefined =>
  hasher?.createHash('sha256').update(kernelKey(k)).digest('hex').slice(0, 32);

/** What the cache holds for this kernel on this device from a search at least `beam` wide, if still valid. */
export function cached(backend: Backend, k: Kernel, beam: number): Entry | undefined {
  const key = digest(k),
    e = key ? tuned[deviceOf(backend)]?.[key] : undefined;
  return e && Array.isArray(e.opts) && e.beam >= beam && !invalidOpts(k, e.opts, backend.caps) ? e : undefined;
}

async function remember(backend: Backend, k: Kernel, e: Entry): Promise<void> {
  const key = digest(k);
  if (!key) return;
  // merged into what the file holds now: another process may have tuned other kernels meanwhile (a wider search's
  // entry is kept over a narrower one's)
  const disk = (await readCache<BeamFile>(fileName, 'beam cache', checkFile))?.devices ?? {};
  const dev = deviceOf(backend);
  const old = disk[dev]?.[key];
  tuned = {
    ...disk,
    [dev]: { ...(disk[dev] ?? {}), ...(tuned[dev] ?? {}), [key]: old && old.beam > e.beam ? old : e },
  };
  await writeCache(fileName, { format: 1, version, devices: tuned } satisfies BeamFile);
}

// ---- timing candidates ----
/** Seeded values in [-1, 1) for float inputs; integer inputs are 0 (a valid index everywhere), bools alternate. */
function inputValues(n: number, float: boolean, seed: number): number[] {
  let s = seed >>> 0;
  return Array.from({ length: n }, (_, i) => {
    if (!float) return i & 1 ? 0 : seed & 1;
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

/** Equal up to reduction order: NaN where NaN, infinities and integers equal, floats close at the output's scale. */
function same(a: TypedData, b: TypedData, d: DType): boolean {
  let scale = 0;
  for (const v of b) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
  const float = isFloat(d),
    tol = (d === 'f16' ? 1e-2 : d === 'bf16' ? 4e-2 : 1e-3) * Math.max(scale, 1e-6);
  for (let i = 0; i < b.length; i++) {
    const x = a[i]!,
      y = b[i]!;
    if (Number.isNaN(y) ? !Number.isNaN(x) : !Number.isFinite(y) || !float ? x !== y : !(Math.abs(x - y) <= tol))
      return false;
  }
  return true;
}

interface Timer {
  measure(opts: readonly Opt[]): Promise<number | undefined>;
  duel(a: readonly Opt[], b: readonly Opt[], rounds: number): Promise<[number, number]>;
  release(): void;
}

/**
 * Timing for kernel k on the backend: `measure` compiles a list (once), runs it on seeded inputs, keeps it only if
 * its outputs equal the unoptimized kernel's, then times it on the host around batches of launches (so the device's
 * timer queries stay the runtime's); `duel` times two measured lists alternately; `release` frees the buffers.
 */
async function timer(backend: Backend, k: Kernel): Promise<Timer> {
  const stored = k.params.map((p) => storageOf(backend.caps, p.dtype));
  const bytes = k.params.map((p, i) => p.numel * itemsize(stored[i]!));
  const bufs: DeviceBuffer[] = bytes.map((n) => backend.alloc(Math.max(4, Math.ceil(n / 4) * 4)));
  const release = (): void => bufs.forEach((b) => backend.free(b));
  const varArgs = new Map<number, VarArg>();
  for (const s of k.stores)
    for (const u of s.toposort())
      if (u.op === 'VAR') varArgs.set((u.arg as unknown as VarArg).index, u.arg as unknown as VarArg);
  const vals = (k.vars ?? []).map((d, i) =>
    isFloat(d) ? 0.5 : Math.min(Math.max(0, varArgs.get(i)?.min ?? 0), varArgs.get(i)?.max ?? 0),
  );
  const fill = (write: boolean): void =>
    k.params.forEach((p, i) => {
      if (p.write === write)
        backend.write(
          bufs[i]!,
          encode(
            write ? new Array<number>(p.numel).fill(0) : inputValues(p.numel, isFloat(p.dtype), 7 + i),
            p.dtype,
            stored[i]!,
          ),
        );
    });
  const outputs = async (): Promise<TypedData[]> =>
    Promise.all(
      k.params.flatMap((p, i) =>
        p.write ? [backend.read(bufs[i]!).then((b) => decode(b.subarray(0, bytes[i]), p.dtype, stored[i]!))] : [],
      ),
    );
  const programs = new Map<string, Promise<Program>>();
  const withOpts = (opts: readonly Opt[]): Kernel => ({ ...k, opts: opts.length ? opts : undefined });
  const program = (kk: Kernel): Promise<Program> => {
    const key = JSON.stringify(kk.opts ?? []);
    let p = programs.get(key);
    if (!p)
      programs.set(
        key,
        (p = backend.compile(kk, render(kk, linearize(kk, backend.caps.globalsAsLoops), backend.language))),
      );
    return p;
  };
  /** The outputs of one launch on the seeded inputs (outputs zeroed first). */
  const outputsOf = async (kk: Kernel): Promise<TypedData[]> => {
    const prog = await program(kk);
    fill(true);
    backend.launch(prog, kk, bufs, vals);
    await backend.sync();
    return outputs();
  };
  /** ms per launch: batches of launches of at least ~2 ms each, the best of three after one to warm up. */
  const timeOf = async (kk: Kernel): Promise<number> => {
    const prog = await program(kk);
    let reps = 1,
      best = Infinity;
    for (let i = 0; i < 4; i++) {
      const t0 = performance.now();
      for (let r = 0; r < reps; r++) backend.launch(prog, kk, bufs, vals);
      await backend.sync();
      const per = (performance.now() - t0) / reps;
      if (i > 0) best = Math.min(best, per);
      reps = Math.min(64, Math.max(1, Math.ceil(2 / Math.max(per, 1e-3))));
    }
    return best;
  };
  fill(false);
  const base = await outputsOf(withOpts([])).catch(() => undefined);
  const outDtypes = k.params.filter((p) => p.write).map((p) => p.dtype);
  return {
    release,
    measure: async (opts) => {
      beamStats.timed++;
      try {
        const kk = withOpts(opts),
          out = await outputsOf(kk);
        // no reference (the unoptimized kernel failed): nothing can count, the heuristic stays
        if (!base || !out.every((o, i) => same(o, base[i]!, outDtypes[i]!))) return undefined;
        return await timeOf(kk);
      } catch {
        return undefined; // a list that does not compile or fails its checks is no candidate
      }
    },
    /** Medians of `rounds` alternating timings of two lists already measured (so noise hits both alike). */
    duel: async (a, b, rounds) => {
      const ta: number[] = [],
        tb: number[] = [];
      for (let i = 0; i < rounds; i++) {
        ta.push(await timeOf(withOpts(a)));
        tb.push(await timeOf(withOpts(b)));
      }
      const median = (xs: number[]): number => xs.sort((x, y) => x - y)[xs.length >> 1]!;
      return [median(ta), median(tb)];
    },
  };
}

/** The result of tuning one kernel (polygrad tune reports these); `tried` is 0 for a cache hit. */
export interface Tuned {
  readonly name: string;
  readonly opts: readonly Opt[];
  readonly ms: number;
  readonly heuristicMs: number;
  readonly tried: number;
}
const chosen: (Tuned & { from: 'cache' | 'search' })[] = [];
/** Remembers a choice for takeChoices; a process nobody asks keeps only the latest few thousand. */
const note = (t: Tuned & { from: 'cache' | 'search' }): void => {
  if (chosen.push(t) > 4096) chosen.shift();
};
/** @internal The kernels BEAM chose actions for since the last call (polygrad tune prints them). */
export const takeChoices = (): (Tuned & { from: 'cache' | 'search' })[] => chosen.splice(0);

/** Searches run one at a time: concurrent compiles (a kernel's shards) must not time each other. */
let searching: Promise<unknown> = Promise.resolve();

/** Searches k's actions on the backend: the heuristic's list and none start the beam; undefined if nothing ran. */
export function search(backend: Backend, k: Kernel, beam = width): Promise<Tuned | undefined> {
  const r = searching.then(() => searchNow(backend, k, beam));
  searching = r.catch(() => undefined);
  return r;
}

async function searchNow(backend: Backend, k: Kernel, beam: number): Promise<Tuned | undefined> {
  beamStats.searches++;
  const heuristic = optimize(k, backend.caps).opts ?? [];
  const t = await timer(backend, k);
  try {
    const hms = await t.measure(heuristic);
    if (hms === undefined) return undefined;
    const r = await beamSearch(k, backend.caps, [heuristic, []], Math.max(beam, 1), budgetMs, (o) => t.measure(o));
    if (!r) return undefined;
    const mine = canonical(heuristic);
    if (formatOpts(r.opts) === formatOpts(mine))
      return { name: k.name, opts: mine, ms: r.ms, heuristicMs: r.ms, tried: r.tried };
    // the winner replaces the heuristic only when it stays clearly faster timed head to head (not by noise)
    const [h, w] = await t.duel(mine, r.opts, 5).catch(() => [0, Infinity]);
    return w < h * 0.97
      ? { name: k.name, opts: r.opts, ms: w, heuristicMs: h, tried: r.tried }
      : { name: k.name, opts: mine, ms: h, heuristicMs: h, tried: r.tried };
  } finally {
    t.release();
  }
}

/** The actions kernel k gets on the backend, and where they came from. */
export async function chooseOpts(backend: Backend, k: Kernel): Promise<Chosen> {
  const caps = backend.caps;
  if (override) {
    const opts = override(k, caps);
    if (opts) {
      const why = invalidOpts(k, opts, caps);
      if (why) throw new Error(`${k.name}: ${why}`);
      return { kernel: { ...k, opts: opts.length ? opts : undefined }, from: 'pinned' };
    }
  }
  // actions pinned by a contributed kernel (kind 'opts') win where they are valid here
  if (k.opts?.length && !invalidOpts(k, k.opts, caps)) return { kernel: k, from: 'pinned' };
  const plain = k.opts?.length ? { ...k, opts: undefined } : k;
  if (!width) return { kernel: optimize(plain, caps), from: 'heuristic' };
  const hit = cached(backend, plain, width);
  if (hit) {
    note({ ...hit, tried: 0, from: 'cache' });
    return { kernel: { ...plain, opts: hit.opts.length ? hit.opts : undefined }, from: 'cache' };
  }
  const r = await search(backend, plain);
  if (!r) return { kernel: optimize(plain, caps), from: 'heuristic' };
  note({ ...r, from: 'search' });
  await remember(backend, plain, { name: r.name, opts: r.opts, ms: r.ms, heuristicMs: r.heuristicMs, beam: width });
  return { kernel: { ...plain, opts: r.opts.length ? r.opts : undefined }, from: 'search' };
}
