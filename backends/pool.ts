// Worker threads that run contiguous chunks of a CPU kernel's outermost loop (Node only: browsers stay on one
// thread). Buffers are SharedArrayBuffers, so a chunk writes its outputs in place; the caller takes chunks too,
// then blocks on a shared counter (Atomics.wait), so a launch stays synchronous.
import type { DType } from '../codegen/dtype.js';
import { bf16ToF32, bf16round, f16ToF32, f16round, f32ToBf16, f32ToF16 } from '../codegen/dtype.js';
import { envInt, inNode } from '../runtime/debug.js';

type WorkerThreads = typeof import('node:worker_threads');

/** The half conversions of codegen/dtype.ts the helpers build on (a worker passes its own copies). */
export const conversions = { f16ToF32, f32ToF16, f16round, bf16ToF32, f32ToBf16, bf16round };
type Conversions = typeof conversions;

/** What `h.` names in a kernel. Written as one self-contained function: workers get it as source. */
export function makeHelpers(c: Conversions) {
  const scratch = new DataView(new ArrayBuffer(4));
  const halves = new Float32Array(65536),
    bhalves = new Float32Array(65536);
  for (let i = 0; i < 65536; i++) {
    halves[i] = c.f16ToF32(i);
    bhalves[i] = c.bf16ToF32(i);
  }
  return {
    f2h: c.f32ToF16,
    f16: c.f16round,
    halves,
    f2bh: c.f32ToBf16,
    bf16: c.bf16round,
    bhalves,
    bitcast(v: number, from: DType, to: DType): number {
      if (from === 'f32') scratch.setFloat32(0, v);
      else if (from === 'i32') scratch.setInt32(0, v);
      else scratch.setUint32(0, v);
      return to === 'f32' ? scratch.getFloat32(0) : to === 'i32' ? scratch.getInt32(0) : scratch.getUint32(0);
    },
    check(v: number, lo: number, hi: number, message: string): number {
      if (v < lo || v > hi || !Number.isInteger(v))
        throw new RangeError(`${message}: index ${v} is out of range [${lo}, ${hi}]`);
      return v;
    },
  };
}
export type Helpers = ReturnType<typeof makeHelpers>;
/**
 * A compiled kernel: `new Function('b', 'h', 'lo', 'hi', 'v', source)`; lo..hi bound its outermost global loop, v
 * holds its variables' values.
 */
export type KernelFn = (
  b: readonly ArrayBufferView[],
  h: Helpers,
  lo: number,
  hi: number,
  v: readonly number[],
) => void;
export const compileKernel = (source: string): KernelFn => new Function('b', 'h', 'lo', 'hi', 'v', source) as KernelFn;

/**
 * Runs chunk `mine` of [0, extent), then takes chunks from the shared counter (state[1]) until none is left, so a
 * thread that starts late or is preempted takes fewer; returns the first chunk that threw (later ones still run:
 * their outputs are dropped with the failed launch). Self-contained: workers get it as source.
 */
export function runChunks(
  fn: KernelFn,
  views: readonly ArrayBufferView[],
  h: Helpers,
  extent: number,
  chunks: number,
  state: Int32Array,
  mine: number,
  vals: readonly number[],
): { chunk: number; error: unknown } | undefined {
  let failed: { chunk: number; error: unknown } | undefined;
  for (let c = mine; c < chunks; c = Atomics.add(state, 1, 1)) {
    try {
      fn(views, h, Math.floor((c * extent) / chunks), Math.floor(((c + 1) * extent) / chunks), vals);
    } catch (error) {
      failed ??= { chunk: c, error };
    }
  }
  return failed;
}

// the half conversions read two scratch arrays of codegen/dtype.ts; a worker declares its own
const workerSource = `
const { workerData } = require('node:worker_threads');
const { port, shared } = workerData, state = new Int32Array(shared);
const f32 = new Float32Array(1), u32 = new Uint32Array(f32.buffer);
${f16ToF32}
${f32ToF16}
${f16round}
${bf16ToF32}
${f32ToBf16}
${bf16round}
const h = (${makeHelpers})({ f16ToF32, f32ToF16, f16round, bf16ToF32, f32ToBf16, bf16round });
const runChunks = ${runChunks};
const fns = new Map();
port.on('message', ({ source, views, extent, chunks, mine, vals }) => {
  try {
    let fn = fns.get(source);
    if (!fn) {
      if (fns.size >= 1024) fns.clear();   // a long session's kernels must not pile up here
      fns.set(source, (fn = new Function('b', 'h', 'lo', 'hi', 'v', source)));
    }
    const failed = runChunks(fn, views, h, extent, chunks, state, mine, vals);
    if (failed) {
      const { chunk, error } = failed;
      port.postMessage({ chunk, name: error?.name ?? 'Error', message: String(error?.message ?? error) });
    }
  } catch (e) {
    port.postMessage({ chunk: -1, name: e?.name ?? 'Error', message: String(e?.message ?? e) });
  } finally {
    if (Atomics.sub(state, 0, 1) === 1) Atomics.notify(state, 0);
  }
});
Atomics.add(state, 2, 1);
Atomics.notify(state, 2);
`;

const spec = 'node:worker_threads',
  osSpec = 'node:os';
const threads: WorkerThreads | undefined =
  inNode && typeof SharedArrayBuffer === 'function' ? await import(/* @vite-ignore */ spec) : undefined;
const cores: number = threads
  ? ((await import(/* @vite-ignore */ osSpec)) as typeof import('node:os')).availableParallelism()
  : 1;

/**
 * Threads a CPU kernel may use: 1 in browsers or with POLYGRAD_THREADS=1, else POLYGRAD_THREADS or min(cores - 1, 8)
 * workers plus the caller.
 */
export function defaultThreads(): number {
  if (!threads) return 1;
  return envInt('POLYGRAD_THREADS', 1, Math.min(cores - 1, 8) + 1);
}
export const threadsAvailable = threads !== undefined;

const errorTypes: Record<string, ErrorConstructor> = { RangeError, TypeError, SyntaxError, ReferenceError };

export class Pool {
  readonly #workers: {
    worker: import('node:worker_threads').Worker;
    port: import('node:worker_threads').MessagePort;
  }[] = [];
  /** [workers still running, next chunk to take, workers started] */
  readonly #state = new Int32Array(new SharedArrayBuffer(12));
  #broken = false;

  /**
   * Whether `n` workers are up, starting the missing ones and waiting for each to say so: one that fails while
   * starting never would, and this thread cannot see its error event while it blocks, so after a few seconds
   * the pool gives up and kernels run on the caller's thread alone.
   */
  #start(n: number): boolean {
    const wt = threads!,
      state = this.#state;
    if (this.#broken) return false;
    while (this.#workers.length < n) {
      const { port1, port2 } = new wt.MessageChannel();
      // execArgv: []: flags such as --input-type=module would make the worker's source an ES module
      const worker = new wt.Worker(workerSource, {
        eval: true,
        execArgv: [],
        workerData: { port: port2, shared: state.buffer },
        transferList: [port2],
      });
      worker.unref(); // idle workers never keep the process alive
      worker.on('error', () => {
        this.#broken = true;
      }); // seen between launches: later ones stay on one thread
      this.#workers.push({ worker, port: port1 });
    }
    const deadline = performance.now() + 10_000;
    for (let v; (v = Atomics.load(state, 2)) < n; ) {
      const left = deadline - performance.now();
      if (left <= 0) {
        this.#broken = true;
        for (const w of this.#workers) void w.worker.terminate();
        return false;
      }
      Atomics.wait(state, 2, v, left);
    }
    return true;
  }

  /**
   * Runs fn over [0, extent) in `chunks` contiguous chunks on this thread and `workers` workers, and returns when
   * all are done; throws the error of the first chunk that failed (the one a single thread would meet first).
   */
  run(
    fn: KernelFn,
    source: string,
    views: readonly ArrayBufferView[],
    h: Helpers,
    extent: number,
    chunks: number,
    workers: number,
    vals: readonly number[],
  ): void {
    if (!this.#start(workers)) {
      fn(views, h, 0, extent, vals);
      return;
    }
    const wt = threads!,
      state = this.#state;
    Atomics.store(state, 0, workers);
    // chunk i <= workers is thread i's (0: this one), the rest go to whoever is free
    Atomics.store(state, 1, workers + 1);
    for (let i = 0; i < workers; i++)
      this.#workers[i]!.port.postMessage({ source, views, extent, chunks, mine: i + 1, vals });
    const failures = [runChunks(fn, views, h, extent, chunks, state, 0, vals)];
    for (let v; (v = Atomics.load(state, 0)) !== 0; ) Atomics.wait(state, 0, v);
    // drain every worker's reply, so none is left for the next launch
    for (const w of this.#workers.slice(0, workers)) {
      const m = wt.receiveMessageOnPort(w.port)?.message as
        | { chunk: number; name: string; message: string }
        | undefined;
      if (m) failures.push({ chunk: m.chunk, error: new (errorTypes[m.name] ?? Error)(m.message) });
    }
    const first = failures.reduce((a, f) => (f && (!a || f.chunk < a.chunk) ? f : a), undefined);
    if (first) throw first.error;
  }
}
