// Runs a graph: schedule (cached by structure), lower + render + compile each kernel once, launch on
// device buffers, free intermediates after their last use, and report what ran (DEBUG, stats).
import type { Kernel } from '../codegen/kernel.js';
import { estimate } from '../codegen/estimate.js';
import { linearize } from '../codegen/linearize.js';
import { optimize } from '../codegen/opt.js';
import { render } from '../codegen/render.js';
import type { UOp } from '../codegen/uop.js';
import type { Backend, Program } from '../backends/backend.js';
import { Buffer } from './buffer.js';
import { debugLevel, kernelLine, stats } from './debug.js';
import { getDevice } from './device.js';
import { profiling, record } from './profile.js';
import { type Schedule, Scheduler, graphKey } from './schedule.js';
import type { Tensor } from './tensor.js';

/** Nodes computed by an earlier realize whose buffers a tensor still owns, per device (a graph of
 * constants is one node on every device). */
const realizedOf = new WeakMap<UOp, Buffer[]>();

export function markRealized(u: UOp, b: Buffer): void {
  realizedOf.set(u, [...(realizedOf.get(u) ?? []).filter((x) => !x.freed && x.backend !== b.backend), b]);
}

export function liveBuffer(u: UOp, backend: Backend): Buffer | undefined {
  if (u.op === 'BUFFER') {
    const b = u.arg as unknown as Buffer;
    return !b.freed && b.backend === backend ? b : undefined;
  }
  return realizedOf.get(u)?.find((b) => !b.freed && b.backend === backend);
}

interface Compiled { readonly program: Program; readonly kernel: Kernel; readonly flops: number; readonly bytes: number }
const schedules = new WeakMap<Backend, Map<string, Schedule>>();
const compiled = new WeakMap<Backend, WeakMap<Kernel, Compiled>>();

async function compile(backend: Backend, k: Kernel): Promise<Compiled> {
  let perBackend = compiled.get(backend);
  if (!perBackend) compiled.set(backend, (perBackend = new WeakMap()));
  let c = perBackend.get(k);
  if (!c) {
    const opt = optimize(k, backend.caps);
    const insts = linearize(opt, backend.caps.globalsAsLoops);
    const source = render(opt, insts, backend.language);
    if (debugLevel() >= 3 && opt.opts) console.log(`${k.name}: ${opt.opts.map((o) => `${o.op}(${o.axis}, ${o.amount})`).join(' ')}`);
    if (debugLevel() >= 4) console.log(source);
    stats.compiles++;
    c = { program: await backend.compile(opt, source), kernel: opt, ...estimate(opt, insts) };
    perBackend.set(k, c);
  }
  return c;
}

/** Computes `outputs` on `backend`; returns one buffer per output, retained once for the caller to release. */
async function realizeNodes(backend: Backend, outputs: readonly UOp[]): Promise<Buffer[]> {
  const t0 = performance.now();
  const { key, leaves } = graphKey(outputs, (u) => liveBuffer(u, backend) !== undefined);
  let perBackend = schedules.get(backend);
  if (!perBackend) schedules.set(backend, (perBackend = new Map()));
  let sched = perBackend.get(key);
  const hit = sched !== undefined;
  if (!sched) {
    sched = new Scheduler(new Map(leaves.map((u, i) => [u, i] as [UOp, number])), backend.caps).run(outputs);
    perBackend.set(key, sched);
  } else stats.scheduleCacheHits++;
  stats.schedules++;
  if (debugLevel() >= 1) {
    console.log(`schedule: ${sched.items.length} kernel${sched.items.length === 1 ? '' : 's'} for ${outputs.length} output${outputs.length === 1 ? '' : 's'} in ${(performance.now() - t0).toFixed(2)} ms${hit ? ' (cache hit)' : ''}`);
  }
  // inputs are held for the run: one disposed meanwhile (a.exp().data(); a.dispose()) lives until its kernels ran
  const inputs = leaves.map((u) => liveBuffer(u, backend)!.retain());
  const outs = sched.outputs.map((plan, i) => (plan.kind === 'input' ? inputs[plan.slot]! : new Buffer(backend, outputs[i]!.dtype, outputs[i]!.numel)));
  const temps: (Buffer | undefined)[] = sched.temps.map(() => undefined);
  try {
    for (const item of sched.items) {
      // an empty output has nothing to compute (and a GPU grid of 0 would render index math dividing by 0)
      if (item.kernel.shape.includes(0)) continue;
      const bufs = item.bufs.map((r) => {
        if (r.kind === 'input') return inputs[r.slot]!;
        if (r.kind === 'output') return outs[r.index]!;
        return (temps[r.id] ??= new Buffer(backend, sched!.temps[r.id]!.dtype, sched!.temps[r.id]!.numel));
      });
      const c = await compile(backend, item.kernel);
      const timed = debugLevel() >= 2 || profiling();
      if (timed) await backend.sync();   // the previous kernels' time is not this one's
      const start = performance.now();
      try {
        backend.launch(c.program, c.kernel, bufs.map((b) => b.handle), timed);
      } catch (e) {
        throw new Error(`${item.kernel.name}: ${(e as Error).message}`, { cause: e });
      }
      stats.kernels++;
      stats.flops += c.flops;
      stats.bytes += c.bytes;
      if (timed) {
        await backend.sync();
        const ms = (await backend.lastTime?.()) ?? performance.now() - start;
        if (debugLevel() >= 2) console.log(kernelLine(backend.name, item.kernel.name, bufs.length, ms, c.flops, c.bytes));
        record({ name: item.kernel.name, device: backend.name, ops: item.kernel.ops ?? [], ms, flops: c.flops, bytes: c.bytes, startAbs: start });
      }
      for (const id of item.frees) { temps[id]?.free(); temps[id] = undefined; }
    }
  } catch (e) {
    for (const t of temps) t?.free();
    outs.forEach((b, i) => { if (sched!.outputs[i]!.kind === 'kernel') b.free(); });
    for (const b of inputs) b.release();
    throw e;
  }
  for (const b of outs) b.retain();   // before the inputs go: an output may be an input's buffer
  for (const b of inputs) b.release();
  return outs;
}

/**
 * Computes tensors (one schedule per device) and gives each live one its buffer. The buffers come back
 * retained, one per tensor, for the caller to release: a tensor disposed meanwhile still yields its value,
 * and a result that no live tensor adopted is freed by that release.
 */
export async function realizeTensors(tensors: readonly Tensor[], op: string): Promise<Buffer[]> {
  const nodes = tensors.map((t) => t.node(op));   // a disposed tensor fails here, before anything runs
  const held: (Buffer | undefined)[] = [];
  try {
    for (const device of new Set(tensors.map((t) => t.device))) {
      const backend = getDevice(device);
      const idx = tensors.flatMap((t, i) => (t.device === device ? [i] : []));
      // hold what is already computed before awaiting: its owner may be disposed meanwhile
      for (const i of idx) held[i] = liveBuffer(nodes[i]!, backend)?.retain();
      const todo = [...new Set(idx.filter((i) => !held[i]).map((i) => nodes[i]!))];
      const bufs = todo.length ? await realizeNodes(backend, todo) : [];
      for (const i of idx) {
        const b = (held[i] ??= bufs[todo.indexOf(nodes[i]!)]!.retain());
        if (!tensors[i]!.disposed) tensors[i]!.adopt(b);
      }
      for (const b of bufs) b.release();
    }
  } catch (e) {
    for (const b of held) b?.release();
    throw e;
  }
  return held as Buffer[];
}
