// Worker threads that run contiguous chunks of a CPU kernel's outermost loop (Node only: browsers stay on one
// thread). Buffers are SharedArrayBuffers, so a chunk writes its outputs in place; the caller runs chunk 0 and
// blocks on a shared counter (Atomics.wait), so a launch stays synchronous.
import type { DType } from '../codegen/dtype.js';
import { f16ToF32, f32ToF16, f16round } from '../codegen/dtype.js';

type WorkerThreads = typeof import('node:worker_threads');

/** What `h.` names in a kernel. Written as one self-contained function: workers get it as source. */
export function makeHelpers(h2f: (h: number) => number, f2h: (x: number) => number, f16: (x: number) => number) {
  const scratch = new DataView(new ArrayBuffer(4));
  return {
    h2f, f2h, f16,
    bitcast(v: number, from: DType, to: DType): number {
      if (from === 'f32') scratch.setFloat32(0, v); else if (from === 'i32') scratch.setInt32(0, v); else scratch.setUint32(0, v);
      return to === 'f32' ? scratch.getFloat32(0) : to === 'i32' ? scratch.getInt32(0) : scratch.getUint32(0);
    },
    check(v: number, lo: number, hi: number, message: string): number {
      if (v < lo || v > hi || !Number.isInteger(v)) throw new RangeError(`${message}: index ${v} is out of range [${lo}, ${hi}]`);
      return v;
    },
  };
}
export type Helpers = ReturnType<typeof makeHelpers>;
/** A compiled kernel: `new Function('b', 'h', 'lo', 'hi', source)`; lo..hi bound its outermost global loop. */
export type KernelFn = (b: readonly ArrayBufferView[], h: Helpers, lo: number, hi: number) => void;
export const compileKernel = (source: string): KernelFn => new Function('b', 'h', 'lo', 'hi', source) as KernelFn;

// the f16 conversions read two scratch arrays of codegen/dtype.ts; a worker declares its own
const workerSource = `
const { workerData } = require('node:worker_threads');
const { port, pending } = workerData, counter = new Int32Array(pending);
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
${f16ToF32}
${f32ToF16}
${f16round}
const h = (${makeHelpers})(f16ToF32, f32ToF16, f16round);
const fns = new Map();
port.on('message', ({ source, views, lo, hi }) => {
  try {
    let fn = fns.get(source);
    if (!fn) fns.set(source, (fn = new Function('b', 'h', 'lo', 'hi', source)));
    fn(views, h, lo, hi);
  } catch (e) {
    port.postMessage({ name: e?.name ?? 'Error', message: String(e?.message ?? e) });
  } finally {
    if (Atomics.sub(counter, 0, 1) === 1) Atomics.notify(counter, 0);
  }
});
`;

const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;
const spec = 'node:worker_threads', osSpec = 'node:os';
const threads: WorkerThreads | undefined = node && typeof SharedArrayBuffer === 'function' ? await import(/* @vite-ignore */ spec) : undefined;
const cores: number = threads ? ((await import(/* @vite-ignore */ osSpec)) as typeof import('node:os')).availableParallelism() : 1;

/** Threads a CPU kernel may use: 1 in browsers or with POLYGRAD_THREADS=1, else POLYGRAD_THREADS or min(cores - 1, 8) workers plus the caller. */
export function defaultThreads(): number {
  if (!threads) return 1;
  const env = Number((globalThis as { process?: { env: Record<string, string | undefined> } }).process!.env.POLYGRAD_THREADS);
  return env >= 1 ? Math.floor(env) : Math.min(cores - 1, 8) + 1;
}
export const threadsAvailable = threads !== undefined;

const errorTypes: Record<string, ErrorConstructor> = { RangeError, TypeError, SyntaxError, ReferenceError };

export class Pool {
  readonly #workers: { worker: import('node:worker_threads').Worker; port: import('node:worker_threads').MessagePort }[] = [];
  readonly #pending = new Int32Array(new SharedArrayBuffer(4));

  /** Runs fn over [0, extent) in `chunks` contiguous chunks, chunk 0 on this thread; throws the error of the first chunk that failed (the one a single thread meets first). */
  run(fn: KernelFn, source: string, views: readonly ArrayBufferView[], h: Helpers, extent: number, chunks: number): void {
    const wt = threads!;
    while (this.#workers.length < chunks - 1) {
      const { port1, port2 } = new wt.MessageChannel();
      const worker = new wt.Worker(workerSource, { eval: true, workerData: { port: port2, pending: this.#pending.buffer }, transferList: [port2] });
      worker.unref();   // idle workers never keep the process alive
      this.#workers.push({ worker, port: port1 });
    }
    const bound = (i: number): number => Math.floor((i * extent) / chunks);
    Atomics.store(this.#pending, 0, chunks - 1);
    for (let i = 1; i < chunks; i++) this.#workers[i - 1]!.port.postMessage({ source, views, lo: bound(i), hi: bound(i + 1) });
    let first: unknown;
    try { fn(views, h, 0, bound(1)); } catch (e) { first = e; }
    for (let v; (v = Atomics.load(this.#pending, 0)) !== 0;) Atomics.wait(this.#pending, 0, v);
    // drain every worker's reply, so none is left for the next launch
    const replies = this.#workers.slice(0, chunks - 1).map((w) => wt.receiveMessageOnPort(w.port)?.message as { name: string; message: string } | undefined);
    if (first !== undefined) throw first;
    const failed = replies.find((r) => r !== undefined);
    if (failed) throw new (errorTypes[failed.name] ?? Error)(failed.message);
  }
}
