// jit(fn): the first call of a jitted function runs fn as usual, the second also captures what it launched
// (kernels, buffers, variable slots), and later calls replay that capture: no graph building, scheduling or
// allocation but the outputs, the launches handed to the backend as one device graph (WebGPU: one compute pass in
// one submit; CUDA: one CUDA graph). Inputs are swapped by buffer and variables by value; internal buffers are
// planned once, reused by every replay, shared between intermediates whose lifetimes do not overlap.
import type { Backend, DeviceBuffer, DeviceGraph, GraphLaunch } from '../backends/backend.js';
import { kernelKey } from '../codegen/kernel.js';
import { type Bound, UOp } from '../codegen/uop.js';
import { choiceKey } from './beam.js';
import { Buffer, nextBufferUid } from './buffer.js';
import { type Compiled, type Recorder, recorder, recording } from './capture.js';
import { debugLevel, envFlag, stats } from './debug.js';
import { scope } from './memory.js';
import { profiling, stage } from './profile.js';
import { type TimedLaunch, realizeTensors, reportTimes } from './realize.js';
import { Tensor } from './tensor.js';

export interface JitOptions {
  /** Signatures (shapes, dtypes, devices, aliasing, plain values of the arguments) kept captured at once. */
  readonly maxCaptures?: number;
}
export interface JitStats {
  /** Captures made so far, replays run, and the launches of the last replay. */
  readonly captures: number;
  readonly replays: number;
  readonly launches: number;
}
export interface Jitted<A extends unknown[], R> {
  (...args: A): Promise<R>;
  readonly stats: JitStats;
  /** Frees what the captures hold (planned buffers, device graphs); later calls capture again. */
  dispose(): void;
}

let enabled = envFlag('JIT') !== '0';
/**
 * JIT=0 (or setJit(false)) runs jitted functions as plain code (each call in a scope): to tell whether the jit is at
 * fault.
 */
export const setJit = (on: boolean): void => {
  enabled = on;
};

type Leaf = Tensor | number | boolean | string | null | undefined;
const isPlain = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && Object.getPrototypeOf(v) === Object.prototype;

/** The tensors and plain values of a tree of arrays and plain objects, in order, and the tree with them taken out. */
function flatten(v: unknown, leaves: Leaf[] = []): { leaves: Leaf[]; shape: unknown } {
  const walk = (x: unknown): unknown => {
    if (x instanceof Tensor || x === null || x === undefined || ['number', 'boolean', 'string'].includes(typeof x)) {
      leaves.push(x as Leaf);
      return leafMark;
    }
    if (Array.isArray(x)) return x.map(walk);
    if (isPlain(x)) return Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]));
    throw new Error(
      `jit: cannot pass ${typeof x === 'object' ? (x.constructor?.name ?? 'an object') : typeof x} through a jitted ` +
        `function (tensors, numbers, booleans, strings, and arrays or plain objects of them)`,
    );
  };
  return { leaves, shape: walk(v) };
}
const leafMark = Symbol('leaf');
function unflatten(shape: unknown, leaves: readonly unknown[]): unknown {
  let at = 0;
  const walk = (x: unknown): unknown =>
    x === leafMark
      ? leaves[at++]
      : Array.isArray(x)
        ? x.map(walk)
        : isPlain(x)
          ? Object.fromEntries(Object.entries(x).map(([k, y]) => [k, walk(y)]))
          : x;
  return walk(shape);
}
const describeShape = (shape: unknown): string => JSON.stringify(shape, (_, v) => (v === leafMark ? '·' : v)) ?? '';

/** A captured variable: from argument `arg` (a variable tensor) at each replay, or the value it had when captured. */
type VarSource = { readonly arg: number } | { readonly value: number };
/** What a replay returns per result leaf: a fresh output, an argument's buffer, a buffer the capture holds, a value. */
type OutSource =
  | { readonly out: number }
  | { readonly arg: number }
  | { readonly fixed: Buffer }
  | { readonly value: unknown };

interface Launch {
  readonly c: Compiled;
  readonly bufs: readonly Buffer[];
  readonly chunks: readonly number[];
  readonly binds: readonly UOp[];
  readonly vals: readonly number[];
  readonly stage: string;
}

/**
 * Sees a call of the function: launches, uploads (their content hashed) and the values of variables bound inside
 * it (not passed in), so the first two calls can be compared; `strict` (the capturing call) refuses read-backs.
 */
class Probe implements Recorder {
  readonly launches: Launch[] = [];
  readonly uploaded = new Set<Buffer>();
  /** Per kernel key: values of its variables bound inside the function; per upload size: content hashes. */
  readonly internal = new Map<string, number[]>();
  readonly uploads = new Map<string, number[]>();
  /** Buffers a replay will use as they are (made before the call, or uploaded in it), held until planned. */
  readonly kept = new Set<Buffer>();
  backend: Backend | undefined;
  constructor(
    readonly argBinds: ReadonlyMap<UOp, number>,
    readonly argBufs: ReadonlyMap<Buffer, number>,
    readonly strict: boolean,
    readonly start: number,
  ) {}

  readonly #reads = new WeakMap<UOp, boolean>();
  recomputes(u: UOp, b: Buffer): boolean {
    return this.argBufs.has(b) || (b.uid < this.start && this.#readsArgument(u)); // made in the call: a step of it
  }
  /** Whether an argument's buffer is below u (iterative: graphs are deep). */
  #readsArgument(root: UOp): boolean {
    const stack = [root];
    while (stack.length) {
      const u = stack[stack.length - 1]!;
      if (this.#reads.has(u)) {
        stack.pop();
        continue;
      }
      if (u.op === 'BUFFER') {
        this.#reads.set(u, this.argBufs.has(u.arg as unknown as Buffer));
        stack.pop();
        continue;
      }
      const todo = u.src.filter((x) => !this.#reads.has(x));
      if (todo.length) stack.push(...todo);
      else {
        this.#reads.set(
          u,
          u.src.some((x) => this.#reads.get(x)),
        );
        stack.pop();
      }
    }
    return this.#reads.get(root)!;
  }

  launch(
    c: Compiled,
    bufs: readonly Buffer[],
    chunks: readonly number[],
    binds: readonly UOp[],
    vals: readonly number[],
  ): void {
    const backend = bufs[0]?.backend;
    if (this.strict && backend && this.backend && backend !== this.backend) {
      throw new Error(
        `jit: a captured function runs on one device, this one launched on ${this.backend.name} and ${backend.name}`,
      );
    }
    this.backend ??= backend;
    if (this.strict) {
      this.launches.push({ c, bufs, chunks, binds, vals, stage: stage() });
      for (const b of bufs)
        if ((b.uid < this.start || this.uploaded.has(b)) && !this.kept.has(b)) this.kept.add(b.retain());
    }
    binds.forEach((b, i) => {
      if (this.argBinds.has(b)) return;
      const key = `${c.kernel.name}, variable ${i}\u0000${kernelKey(c.kernel)}`;
      this.internal.set(key, [...(this.internal.get(key) ?? []), vals[i]!]);
    });
  }
  upload(b: Buffer, bytes: Uint8Array): void {
    this.uploaded.add(b);
    const key = `${b.numel} × ${b.dtype}`;
    let h = 2166136261;
    for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619);
    this.uploads.set(key, [...(this.uploads.get(key) ?? []), h >>> 0]);
  }
  download(): void {
    if (this.strict)
      throw new Error(
        'jit: the function read a tensor back (data(), item(), tolist()) while being captured; a jitted function ' +
          'may not read device values or branch on them',
      );
  }
}

/** Whether every value of `b` (per key) is among those of `a`: what the capturing call saw, the first call saw too. */
function changed(a: ReadonlyMap<string, number[]>, b: ReadonlyMap<string, number[]>): string | undefined {
  for (const [key, vals] of b) {
    const pool = [...(a.get(key) ?? [])];
    for (const v of vals) {
      const i = pool.findIndex((x) => Object.is(x, v));
      if (i < 0) return key;
      pool.splice(i, 1);
    }
  }
  return undefined;
}

/**
 * A capture ready to replay: the launch list over a table of device buffers, the chunks of [the inputs' buffers,
 * the outputs', the held ones (planned temporaries, buffers used as they are)] in that order.
 */
interface Capture {
  /** Where the launches run (none when the function launched nothing). */
  readonly backend: Backend | undefined;
  readonly launches: readonly GraphLaunch[];
  readonly stages: readonly string[];
  readonly compiled: readonly Compiled[];
  /** The argument leaf of each input, the layout of each output, the buffers held for every replay. */
  readonly inputs: readonly number[];
  readonly outputs: readonly { readonly dtype: Buffer['dtype']; readonly numel: number; readonly chunkElems: number }[];
  readonly held: readonly Buffer[];
  readonly vars: readonly VarSource[];
  readonly results: readonly OutSource[];
  readonly resultShape: unknown;
  readonly resultShapes: readonly (readonly number[])[];
  readonly resultDevices: readonly string[];
  graph?: DeviceGraph;
}

/** Replays launch by launch, for backends without a device graph (and timed runs). */
function sequential(backend: Backend, launches: readonly GraphLaunch[]): DeviceGraph {
  const bufs = launches.map((l) => new Array<DeviceBuffer>(l.bufs.length)),
    vals = launches.map((l) => new Array<number>(l.vals.length));
  return {
    run: (table, values) =>
      launches.forEach((l, i) => {
        l.bufs.forEach((t, j) => {
          bufs[i]![j] = table[t]!;
        });
        l.vals.forEach((t, j) => {
          vals[i]![j] = values[t]!;
        });
        backend.launch(l.program, l.kernel, bufs[i]!, vals[i]!);
      }),
    dispose: () => {},
  };
}

/**
 * Turns what the capturing call launched into a replayable capture. Buffers the arguments own become inputs; the
 * results' new buffers become outputs (fresh per replay); buffers made and written during the call are planned
 * onto reused device buffers by lifetime; buffers that existed before or were uploaded inside are held as is.
 */
function plan(
  probe: Probe,
  start: number,
  argBufs: ReadonlyMap<Buffer, number>,
  resultLeaves: readonly Leaf[],
  resultBufs: readonly (Buffer | undefined)[],
  resultShape: unknown,
): Capture {
  const backend = probe.backend;
  const written = new Set<Buffer>();
  probe.launches.forEach((l) =>
    l.c.kernel.params.forEach((p, i) => {
      if (p.write) written.add(l.bufs[i]!);
    }),
  );
  const fresh = (b: Buffer): boolean => b.uid >= start && written.has(b) && !probe.uploaded.has(b);
  // table entries in order (each as many slots as its buffer has chunks): inputs, outputs, held buffers
  const entry = new Map<Buffer, number>(),
    chunks: number[] = [];
  const add = (b: Buffer): number => {
    entry.set(b, chunks.length);
    chunks.push(b.chunks);
    return chunks.length - 1;
  };
  const inputs: number[] = [],
    outputs: { dtype: Buffer['dtype']; numel: number; chunkElems: number }[] = [],
    held: Buffer[] = [];
  for (const [b, arg] of argBufs) {
    add(b);
    inputs.push(arg);
  }
  const results: OutSource[] = resultLeaves.map((leaf, i) => {
    const b = resultBufs[i];
    if (!(leaf instanceof Tensor) || !b) return { value: leaf };
    if (argBufs.has(b)) return { arg: argBufs.get(b)! };
    if (!fresh(b)) return { fixed: b.retain() };
    if (!entry.has(b)) {
      add(b);
      outputs.push({ dtype: b.dtype, numel: b.numel, chunkElems: b.chunkElems });
    }
    return { out: entry.get(b)! - inputs.length };
  });
  // lifetimes of the temporaries, then first-fit by size onto device buffers freed by earlier ones (a chunked one
  // keeps a buffer of its own layout)
  const life = new Map<Buffer, [number, number]>();
  probe.launches.forEach((l, i) =>
    l.bufs.forEach((b) => {
      if (entry.has(b) || !fresh(b)) return;
      const span = life.get(b);
      life.set(b, [span?.[0] ?? i, i]);
    }),
  );
  const planned: Buffer[] = [],
    ends: number[] = [],
    slotOf = new Map<Buffer, number>();
  for (const [b, [first, last]] of [...life].sort((x, y) => x[1][0] - y[1][0])) {
    let best = -1;
    if (b.chunks === 1)
      planned.forEach((p, s) => {
        if (ends[s]! < first && p.chunks === 1 && p.bytes >= b.bytes && (best < 0 || p.bytes < planned[best]!.bytes))
          best = s;
      });
    if (best < 0) {
      best = planned.length;
      planned.push(
        (b.chunks === 1
          ? new Buffer(b.backend, 'u32', Math.ceil(b.bytes / 4))
          : new Buffer(b.backend, b.dtype, b.numel, b.chunkElems)
        ).retain(),
      );
      ends.push(-1);
    }
    ends[best] = last;
    slotOf.set(b, best);
  }
  const plannedEntry = planned.map((p) => {
    held.push(p);
    return add(p);
  });
  for (const [b, s] of slotOf) entry.set(b, plannedEntry[s]!);
  for (const l of probe.launches)
    for (const b of l.bufs)
      if (!entry.has(b)) {
        held.push(b.retain());
        add(b);
      }
  const base: number[] = []; // an entry's first slot
  chunks.forEach((_, e) => base.push(e ? base[e - 1]! + chunks[e - 1]! : 0));
  const vars: VarSource[] = [],
    varEntry = new Map<UOp, number>();
  const launches = probe.launches.map(
    (l): GraphLaunch => ({
      program: l.c.program,
      kernel: l.c.kernel,
      bufs: l.bufs.map((b, j) => base[entry.get(b)!]! + l.chunks[j]!),
      // a source kernel's own values (shapes, strides) first, constants of the capture; then its bound variables
      vals: [
        ...(l.c.kernel.custom?.values ?? []).map((v) => vars.push({ value: v }) - 1),
        ...l.binds.map((u, i) => {
          if (!varEntry.has(u)) {
            varEntry.set(u, vars.length);
            vars.push(
              probe.argBinds.has(u)
                ? { arg: probe.argBinds.get(u)! }
                : { value: l.vals[(l.c.kernel.custom?.values.length ?? 0) + i]! },
            );
          }
          return varEntry.get(u)!;
        }),
      ],
    }),
  );
  return {
    backend,
    launches,
    stages: probe.launches.map((l) => l.stage),
    compiled: probe.launches.map((l) => l.c),
    inputs,
    outputs,
    held,
    vars,
    results,
    resultShape,
    resultShapes: resultLeaves.map((l) => (l instanceof Tensor ? l.shape : [])),
    resultDevices: resultLeaves.map((l) => (l instanceof Tensor ? l.device : '')),
  };
}

function release(c: Capture): void {
  c.graph?.dispose();
  for (const b of c.held) b.release();
  for (const r of c.results) if ('fixed' in r) r.fixed.release();
}

/** Runs a capture on new arguments: fresh outputs, the table filled, one graph run (or timed launches). */
async function replay(c: Capture, leaves: readonly Leaf[], bufs: readonly (Buffer | undefined)[]): Promise<unknown> {
  const backend = c.backend;
  const outs = backend ? c.outputs.map((o) => new Buffer(backend, o.dtype, o.numel, o.chunkElems)) : [];
  if (backend)
    try {
      const table: DeviceBuffer[] = [...c.inputs.map((a) => bufs[a]!), ...outs, ...c.held].flatMap((b) => b.handles);
      const values = c.vars.map((v) =>
        'arg' in v ? ((leaves[v.arg] as Tensor).node('jit').arg as unknown as Bound).value : v.value,
      );
      if (debugLevel() >= 2 || profiling()) {
        const timed: TimedLaunch[] = c.launches.map((l, i) => {
          const start = performance.now();
          backend.launch(
            l.program,
            l.kernel,
            l.bufs.map((t) => table[t]!),
            l.vals.map((v) => values[v]!),
            true,
          );
          return {
            name: l.kernel.name,
            ops: l.kernel.ops ?? [],
            args: l.bufs.length,
            c: c.compiled[i]!,
            start,
            n: stats.kernels + i + 1,
            stage: c.stages[i]!,
          };
        });
        await reportTimes(backend, timed);
      } else {
        c.graph ??= backend.graph?.(c.launches) ?? sequential(backend, c.launches);
        c.graph.run(table, values);
      }
    } catch (e) {
      for (const b of outs) b.free();
      throw e;
    }
  stats.kernels += c.launches.length;
  for (const k of c.compiled) {
    stats.flops += k.flops;
    stats.bytes += k.bytes;
  }
  const results = c.results.map((r, i) => {
    if ('value' in r) return r.value;
    const b = 'out' in r ? outs[r.out]! : 'arg' in r ? bufs[r.arg]! : r.fixed;
    return new Tensor(UOp.make('BUFFER', b.dtype, [], b, c.resultShapes[i]!), c.resultDevices[i]);
  });
  return unflatten(c.resultShape, results);
}

/**
 * The function as a jitted one. Calls are grouped by signature: the tensors' shapes, dtypes and devices, which
 * arguments share a buffer, and the plain values (numbers, strings) among the arguments. Per signature, the first
 * call runs fn, the second runs it again and captures its launches, later calls replay the capture; a new
 * signature gets its own capture (the least recently used is dropped past maxCaptures). Pass values that change
 * between calls as variable(...) tensors: a number given to fn, a value bound or data uploaded inside fn are
 * constants of the capture (if one changed between the first two calls, the capture fails with an error).
 * A jitted function may not read values back (data(), item()) or branch on them, nor keep tensors it made
 * other than through its result. Inside another function being captured it runs as plain code.
 */
export function jit<A extends unknown[], R>(
  fn: (...args: A) => R | Promise<R>,
  opts: JitOptions = {},
): Jitted<A, Awaited<R>> {
  const maxCaptures = opts.maxCaptures ?? 4;
  interface Entry {
    calls: number;
    first?: Probe;
    capture?: Capture;
  }
  const entries = new Map<string, Entry>();
  const counts = { captures: 0, replays: 0, launches: 0 };
  let tail: Promise<unknown> = Promise.resolve();
  let rule = choiceKey();

  const run = async (args: A): Promise<Awaited<R>> => {
    // captures hold compiled programs: when the rule choosing optimizer actions changes (BEAM), they start over
    if (choiceKey() !== rule) {
      for (const e of entries.values()) if (e.capture) release(e.capture);
      entries.clear();
      rule = choiceKey();
    }
    const { leaves, shape: argShape } = flatten(args);
    const tensors = leaves.flatMap((l, i) => (l instanceof Tensor && l.node('jit').op !== 'BIND' ? [i] : []));
    const bufs: (Buffer | undefined)[] = [];
    (
      await realizeTensors(
        tensors.map((i) => leaves[i] as Tensor),
        'jit',
      )
    ).forEach((b, j) => {
      bufs[tensors[j]!] = b;
    });
    try {
      const argBufs = new Map<Buffer, number>(),
        argBinds = new Map<UOp, number>();
      const sig = [
        describeShape(argShape),
        ...leaves.map((l, i) => {
          if (!(l instanceof Tensor)) return JSON.stringify(l) ?? 'undefined';
          const node = l.node('jit');
          if (node.op === 'BIND') {
            argBinds.set(node, i);
            const v = node.arg as unknown as Bound;
            return `var ${node.dtype} [${v.min}, ${v.max}] on ${l.device}`;
          }
          const b = bufs[i]!,
            same = argBufs.get(b);
          if (same === undefined) argBufs.set(b, i);
          return `${l.dtype}[${l.shape}] on ${l.device}${same === undefined ? '' : ` = argument ${same}`}`;
        }),
      ].join('; ');
      let e = entries.get(sig);
      if (!e) {
        e = { calls: 0 };
        if (entries.size >= maxCaptures) {
          const [oldest, dropped] = entries.entries().next().value as [string, Entry];
          if (dropped.capture) release(dropped.capture);
          entries.delete(oldest);
          if (debugLevel() >= 1)
            console.log(`jit: more than ${maxCaptures} signatures; dropped the capture of ${oldest}`);
        }
      }
      entries.delete(sig);
      entries.set(sig, e); // most recently used last
      if (e.capture) {
        const out = await replay(e.capture, leaves, bufs);
        counts.replays++;
        counts.launches = e.capture.launches.length;
        return out as Awaited<R>;
      }
      const start = nextBufferUid(),
        probe = new Probe(argBinds, argBufs, e.calls === 1, start);
      const { result, resultLeaves, resultBufs } = await recording(probe, async () => {
        const result = await scope(() => fn(...args));
        const resultLeaves = flatten(result).leaves;
        const held = await realizeTensors(
          resultLeaves.filter((l): l is Tensor => l instanceof Tensor),
          'jit',
        );
        let at = 0;
        return {
          result,
          resultLeaves,
          resultBufs: resultLeaves.map((l) => (l instanceof Tensor ? held[at++] : undefined)),
        };
      });
      try {
        if (e.calls++ === 0) {
          e.first = probe;
          return result as Awaited<R>;
        }
        const what = changed(e.first!.internal, probe.internal),
          upload = changed(e.first!.uploads, probe.uploads);
        if (what || upload) {
          e.calls = 1;
          throw new Error(
            what
              ? `jit: a variable bound inside the function (kernel ${what.split('\u0000')[0]}) changed between its ` +
                  `first two calls; pass it as an argument (variable(...)) so replays can change it`
              : `jit: data uploaded inside the function (${upload}) changed between its first two calls; pass it as ` +
                  `an argument`,
          );
        }
        e.capture = plan(probe, start, argBufs, resultLeaves, resultBufs, flatten(result).shape);
        counts.captures++;
        if (debugLevel() >= 1) console.log(`jit: captured ${probe.launches.length} launches for ${sig}`);
        return result as Awaited<R>;
      } finally {
        for (const b of resultBufs) b?.release();
        for (const b of probe.kept) b.release();
      }
    } finally {
      for (const b of bufs) b?.release();
    }
  };

  const jitted = ((...args: A): Promise<Awaited<R>> => {
    if (recorder()) return Promise.resolve(fn(...args)) as Promise<Awaited<R>>; // part of an outer capture
    if (!enabled) return scope(() => fn(...args)) as Promise<Awaited<R>>;
    const p = tail.then(() => run(args));
    tail = p.catch(() => undefined);
    return p;
  }) as Jitted<A, Awaited<R>>;
  Object.defineProperty(jitted, 'stats', { get: (): JitStats => ({ ...counts }) });
  jitted.dispose = () => {
    for (const e of entries.values()) if (e.capture) release(e.capture);
    entries.clear();
  };
  return jitted;
}
