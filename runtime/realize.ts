// Runs a graph: schedule (cached by structure), lower + render + compile each kernel once (cached by its
// structural key), launch on device buffers with the variables' values, free intermediates after their last
// use, and report what ran (DEBUG, stats, profiles). Both caches are bounded.
import { estimate, paramBytes } from '../codegen/estimate.js';
import { type Kernel, kernelKey } from '../codegen/kernel.js';
import { linearize } from '../codegen/linearize.js';
import { formatOpts } from '../codegen/actions.js';
import { render } from '../codegen/render.js';
import { type Layout, rowElems, shard } from '../codegen/shard.js';
import type { Bound, UOp } from '../codegen/uop.js';
import type { Backend } from '../backends/backend.js';
import { chooseOpts, choiceKey } from './beam.js';
import { Buffer } from './buffer.js';
import { type Compiled, recorder } from './capture.js';
import { debugLevel, kernelLine, stats } from './debug.js';
import { getDevice } from './device.js';
import { Lru } from './lru.js';
import { profiling, record, stage } from './profile.js';
import { type Schedule, Scheduler, cutRules, graphKey } from './schedule.js';
import type { Tensor } from './tensor.js';
import { collectIfDue, turnIfLong } from './turn.js';

/** Nodes computed by an earlier realize whose buffers a tensor still owns, per device (a graph of
 * constants is one node on every device). */
const realizedOf = new WeakMap<UOp, Buffer[]>();
/** Counts nodes marked realized: a memoized graph key (below) is stale once another graph's nodes were. */
let epoch = 0;

export function markRealized(u: UOp, b: Buffer): void {
  realizedOf.set(u, [...(realizedOf.get(u) ?? []).filter((x) => !x.freed && x.backend !== b.backend), b]);
  epoch++;
}

export function liveBuffer(u: UOp, backend: Backend): Buffer | undefined {
  if (u.op === 'BUFFER') {
    const b = u.arg as unknown as Buffer;
    return !b.freed && b.backend === backend ? b : undefined;
  }
  const capture = recorder();
  return realizedOf.get(u)?.find((b) => !b.freed && b.backend === backend && !capture?.recomputes(u, b));
}

/** Cache bounds: distinct graphs scheduled, distinct kernels compiled, per backend. */
export const cacheLimits = { schedules: 512, kernels: 4096 };
const schedules = new WeakMap<Backend, Lru<string, Schedule>>();
const compiled = new WeakMap<Backend, Lru<string, Promise<Compiled>>>();
const perBackend = <V>(m: WeakMap<Backend, Lru<string, V>>, b: Backend, capacity: number): Lru<string, V> => {
  let c = m.get(b);
  if (!c) m.set(b, (c = new Lru(capacity)));
  return c;
};
/** Entries in the schedule and compile caches of a backend (tests check they stay bounded). */
export const cacheSizes = (b: Backend): { schedules: number; kernels: number } => ({
  schedules: schedules.get(b)?.size ?? 0,
  kernels: compiled.get(b)?.size ?? 0,
});

/** Optimizes, renders and compiles a kernel once per structural key; concurrent requests share one compile. */
export function compile(backend: Backend, k: Kernel): Promise<Compiled> {
  // the key holds the rule that picks actions: BEAM on or off compiles anew
  const cache = perBackend(compiled, backend, cacheLimits.kernels),
    key = `${choiceKey()}|${kernelKey(k)}`;
  let c = cache.get(key);
  if (!c) {
    c = (async () => {
      if (k.custom) {
        const source = k.custom.sources[backend.language.name];
        if (source === undefined)
          throw new Error(
            `${k.name}: kernel ${k.custom.name} has no ${backend.language.name} source for ${backend.name}`,
          );
        if (debugLevel() >= 4) console.log(source);
        stats.compiles++;
        return {
          program: await backend.compile(k, { source, checks: false }),
          kernel: k,
          flops: 0,
          bytes: paramBytes(k, backend.caps.storage),
        };
      }
      const { kernel: opt, from } = await chooseOpts(backend, k);
      const insts = linearize(opt, backend.caps.globalsAsLoops);
      const rendered = render(opt, insts, backend.language);
      if (debugLevel() >= 3) console.log(`${k.name}: ${formatOpts(opt.opts ?? [])} (${from})`);
      if (debugLevel() >= 4) console.log(rendered.source);
      stats.compiles++;
      const program = await backend.compile(opt, rendered);
      await turnIfLong();
      return { program, kernel: opt, ...estimate(opt, insts, backend.caps.storage) };
    })();
    cache.set(key, c);
    c.catch(() => cache.delete(key)); // a failed compile is reported, not remembered
  }
  return c;
}

/**
 * The launches of a kernel over buffers stored as `layouts`: the kernel itself, or its shards when a buffer is in
 * chunks (codegen/shard.ts); `binds[i]` is the (param, chunk) a shard's param i is.
 */
interface Launch {
  readonly compiled: Promise<Compiled>;
  readonly binds?: readonly { readonly param: number; readonly chunk: number }[];
}
const sharded = new WeakMap<Kernel, Map<string, readonly Launch[]>>();
function launchesOf(backend: Backend, k: Kernel, layouts: readonly Layout[]): readonly Launch[] {
  let perLayout = sharded.get(k);
  if (!perLayout) sharded.set(k, (perLayout = new Map()));
  const key = `${backend.name}|${choiceKey()}|${layouts.map((l) => `${l.numel}/${l.chunkElems}`).join(',')}`;
  let launches = perLayout.get(key);
  if (!launches) {
    const shards = k.custom ? undefined : shard(k, layouts, backend.caps);
    launches = shards
      ? shards.map((s) => ({ compiled: compile(backend, s.kernel), binds: s.binds }))
      : [{ compiled: compile(backend, k) }];
    perLayout.set(key, launches);
  }
  return launches;
}

/** A graph's key, leaves and variables, remembered per output set while nothing else was realized since. */
interface Keyed {
  readonly ids: string;
  readonly key: string;
  readonly leaves: UOp[];
  readonly binds: UOp[];
  epoch: number;
}
const keyed = new WeakMap<UOp, Keyed>();

function keyOf(backend: Backend, outputs: readonly UOp[]): Keyed {
  const ids = `${backend.name}|${outputs.map((o) => o.id).join(',')}`;
  const hit = keyed.get(outputs[0]!);
  if (hit && hit.ids === ids && hit.epoch === epoch && hit.leaves.every((u) => liveBuffer(u, backend))) return hit;
  const { key, leaves, binds } = graphKey(outputs, (u) => liveBuffer(u, backend) !== undefined);
  const k: Keyed = { ids, key, leaves, binds, epoch };
  keyed.set(outputs[0]!, k);
  return k;
}

/** A timed launch waiting for its time: kernel, buffers bound, when the host issued it, its number, its stage. */
export interface TimedLaunch {
  readonly name: string;
  readonly ops: readonly string[];
  readonly args: number;
  readonly c: Compiled;
  readonly start: number;
  readonly n: number;
  readonly stage: string;
}
/** Where each backend's device timeline has reached, so batched times lay out one after another in a trace. */
const deviceClock = new WeakMap<Backend, number>();

/** Prints and records the times of a run's timed launches, resolved in one batch after the run. */
export async function reportTimes(
  backend: Backend,
  launches: readonly TimedLaunch[],
  hostMs: readonly number[] = [],
): Promise<void> {
  await backend.sync();
  const times = hostMs.length ? hostMs : await backend.takeTimes();
  let clock = deviceClock.get(backend) ?? 0;
  launches.forEach((l, i) => {
    const ms = times[i] ?? 0,
      start = Math.max(l.start, clock);
    clock = start + ms;
    if (debugLevel() >= 2) console.log(kernelLine(backend.name, l.n, l.name, l.args, ms, l.c.flops, l.c.bytes));
    record({
      name: l.name,
      device: backend.name,
      ops: l.ops,
      ms,
      flops: l.c.flops,
      bytes: l.c.bytes,
      stage: l.stage,
      startAbs: start,
    });
  });
  deviceClock.set(backend, clock);
}

/** The schedule of `outputs` on `backend` over the buffers live there, from the cache when the graph was seen. */
export function scheduleOn(backend: Backend, outputs: readonly UOp[]): { sched: Schedule; g: Keyed; hit: boolean } {
  const g = keyOf(backend, outputs),
    cache = perBackend(schedules, backend, cacheLimits.schedules);
  const cached = cache.get(g.key);
  if (cached) return { sched: cached, g, hit: true };
  const slots = <T>(xs: readonly T[]) => new Map(xs.map((u, i) => [u, i] as [T, number]));
  const sched = new Scheduler(slots(g.leaves), backend.caps, slots(g.binds)).run(outputs);
  cache.set(g.key, sched);
  return { sched, g, hit: false };
}

/** Computes `outputs` on `backend`; returns one buffer per output, retained once for the caller to release. */
async function realizeNodes(backend: Backend, outputs: readonly UOp[]): Promise<{ bufs: Buffer[]; keyed: Keyed }> {
  const t0 = performance.now();
  const { sched, g, hit } = scheduleOn(backend, outputs);
  if (hit) stats.scheduleCacheHits++;
  stats.schedules++;
  if (debugLevel() >= 1) {
    console.log(
      `schedule: ${sched.items.length} kernel${sched.items.length === 1 ? '' : 's'} for ${outputs.length} ` +
        `output${outputs.length === 1 ? '' : 's'} in ${(performance.now() - t0).toFixed(2)} ` +
        `ms${hit ? ' (cache hit)' : ''}`,
    );
    if (!hit) for (const c of sched.cuts) console.log(`  cut by ${c.rule}: ${c.node} (${cutRules[c.rule]})`);
  }
  const values = g.binds.map((u) => (u.arg as unknown as Bound).value);
  const rec = recorder();
  const timed = debugLevel() >= 2 || profiling();
  // a GPU without a timer: measured on the host around each kernel (that serializes it, as it must)
  const serial = timed && backend.caps.timer === 'host' && !backend.caps.globalsAsLoops;
  const timedLaunches: TimedLaunch[] = [],
    hostMs: number[] = [];
  // inputs are held for the run: one disposed meanwhile (a.exp().data(); a.dispose()) lives until its kernels ran
  const inputs = g.leaves.map((u) => liveBuffer(u, backend)!.retain());
  const outs = sched.outputs.map((plan, i) =>
    plan.kind === 'input'
      ? inputs[plan.slot]!
      : new Buffer(backend, outputs[i]!.dtype, outputs[i]!.numel, rowElems(outputs[i]!.shape)),
  );
  const temps: (Buffer | undefined)[] = sched.temps.map(() => undefined);
  try {
    for (const item of sched.items) {
      // an empty output has nothing to compute (and a GPU grid of 0 would render index math dividing by 0)
      if (item.kernel.shape.includes(0)) continue;
      const bufs = item.bufs.map((r) => {
        if (r.kind === 'input') return inputs[r.slot]!;
        if (r.kind === 'output') return outs[r.index]!;
        const t = sched.temps[r.id]!;
        return (temps[r.id] ??= new Buffer(backend, t.dtype, t.numel, t.row));
      });
      // a source kernel's integer arguments first (shapes, strides), then the bound variables
      const vals = [...(item.kernel.custom?.values ?? []), ...item.vars.map((s) => values[s]!)],
        binds = item.vars.map((s) => g.binds[s]!);
      for (const launch of launchesOf(
        backend,
        item.kernel,
        bufs.map((b) => b.layout),
      )) {
        // one program serves a source kernel at every shape: its launch geometry and values are this item's
        const compiled = await launch.compiled,
          c = item.kernel.custom ? { ...compiled, kernel: item.kernel } : compiled;
        const [lbufs, chunks] = launch.binds
          ? [launch.binds.map((b) => bufs[b.param]!), launch.binds.map((b) => b.chunk)]
          : [bufs, bufs.map(() => 0)];
        if (serial) await backend.sync();
        const start = performance.now();
        try {
          backend.launch(
            c.program,
            c.kernel,
            lbufs.map((b, i) => b.handles[chunks[i]!]!),
            vals,
            timed && !serial,
          );
        } catch (e) {
          throw new Error(`${item.kernel.name}: ${(e as Error).message}`, { cause: e });
        }
        rec?.launch(c, lbufs, chunks, binds, vals);
        stats.kernels++;
        stats.flops += c.flops;
        stats.bytes += c.bytes;
        if (timed) {
          timedLaunches.push({
            name: item.kernel.name,
            ops: item.kernel.ops ?? [],
            args: lbufs.length,
            c,
            start,
            n: stats.kernels,
            stage: stage(),
          });
          if (serial) {
            await backend.sync();
            hostMs.push(performance.now() - start);
          }
        }
      }
      for (const id of item.frees) {
        temps[id]?.free();
        temps[id] = undefined;
      }
    }
    if (timedLaunches.length) await reportTimes(backend, timedLaunches, hostMs);
  } catch (e) {
    for (const t of temps) t?.free();
    outs.forEach((b, i) => {
      if (sched.outputs[i]!.kind === 'kernel') b.free();
    });
    for (const b of inputs) b.release();
    throw e;
  }
  for (const b of outs) b.retain(); // before the inputs go: an output may be an input's buffer
  for (const b of inputs) b.release();
  return { bufs: outs, keyed: g };
}

/**
 * Computes tensors (one schedule per device) and gives each live one its buffer. The buffers come back
 * retained, one per tensor, for the caller to release: a tensor disposed meanwhile still yields its value,
 * and a result that no live tensor adopted is freed by that release.
 */
export async function realizeTensors(tensors: readonly Tensor[], op: string): Promise<Buffer[]> {
  const nodes = tensors.map((t) => t.node(op)); // a disposed tensor fails here, before anything runs
  const held: (Buffer | undefined)[] = [];
  try {
    for (const device of new Set(tensors.map((t) => t.device))) {
      const backend = getDevice(device);
      const idx = tensors.flatMap((t, i) => (t.device === device ? [i] : []));
      // hold what is already computed before awaiting: its owner may be disposed meanwhile
      for (const i of idx) held[i] = liveBuffer(nodes[i]!, backend)?.retain();
      const todo = [...new Set(idx.filter((i) => !held[i]).map((i) => nodes[i]!))];
      const run = todo.length ? await realizeNodes(backend, todo) : undefined;
      for (const i of idx) {
        const b = (held[i] ??= run!.bufs[todo.indexOf(nodes[i]!)]!.retain());
        if (!tensors[i]!.disposed) tensors[i]!.adopt(b);
      }
      if (run) run.keyed.epoch = epoch; // its own outputs becoming realized leaves its key valid
      for (const b of run?.bufs ?? []) b.release();
    }
  } catch (e) {
    for (const b of held) b?.release();
    throw e;
  }
  // after the work, not before: what the caller disposes meanwhile was already read (the results are held)
  await collectIfDue();
  return held as Buffer[];
}
