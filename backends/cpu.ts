// The CPU device: buffers are ArrayBuffers, kernels are the JS renderer's output compiled with new Function. In
// Node, a big kernel's outermost loop is split between worker threads (backends/pool.ts) over SharedArrayBuffers.
import type { DType } from '../codegen/dtype.js';
import { type Kernel, launchShape } from '../codegen/kernel.js';
import { dtypes } from '../codegen/dtype.js';
import { jsLanguage } from '../codegen/js.js';
import type { Rendered } from '../codegen/render.js';
import { type UOp, isAlu } from '../codegen/uop.js';
import type { Backend, Caps, DeviceBuffer, DeviceGraph, GraphLaunch, Program } from './backend.js';
import {
  type KernelFn,
  Pool,
  compileKernel,
  conversions,
  defaultThreads,
  makeHelpers,
  threadsAvailable,
} from './pool.js';

class CpuBuffer implements DeviceBuffer {
  constructor(readonly data: ArrayBuffer | SharedArrayBuffer) {}
  get bytes(): number {
    return this.data.byteLength;
  }
}

/** `outer`: trip count of the outermost global loop (0: none); `work`: about how many ALU ops a launch runs. */
interface CpuProgram extends Program {
  readonly fn: KernelFn;
  readonly outer: number;
  readonly work: number;
}

const helpers = makeHelpers(conversions);

const views: Record<DType, new (b: ArrayBuffer | SharedArrayBuffer) => ArrayBufferView> = {
  f32: Float32Array,
  f16: Uint16Array,
  bf16: Uint16Array,
  i32: Int32Array,
  u32: Uint32Array,
  bool: Uint8Array,
};

/**
 * About how many ALU ops a launch runs: per output, the ops of its expression, a reduce's body counted once per
 * iteration. Cheap (one walk of the kernel), and close enough to decide whether threads pay off.
 */
function work(k: Kernel): number {
  const ops = (roots: readonly UOp[]): number => {
    const seen = new Set<UOp>();
    let n = 0;
    const visit = (u: UOp): void => {
      if (seen.has(u)) return;
      seen.add(u);
      if (u.op === 'REDUCE')
        n += u.src.slice(1).reduce((m, r) => m * r.range.extent, 1) * Math.max(1, ops([u.src[0]!]));
      else {
        if (isAlu(u.op)) n++;
        u.src.forEach(visit);
      }
    };
    roots.forEach(visit);
    return n;
  };
  return k.shape.reduce((a, b) => a * b, 1) * Math.max(1, ops(k.stores));
}

export interface CpuOptions {
  /**
   * Threads a big kernel runs on, the caller's included (default: POLYGRAD_THREADS, else min(cores - 1, 8) + 1; always
   * 1 in browsers).
   */
  readonly threads?: number;
  /** Kernels with less work (ALU ops, about) stay on one thread: waking the workers costs tens of microseconds. */
  readonly minWork?: number;
}

export class CpuBackend implements Backend {
  readonly name: string;
  readonly caps: Caps;
  readonly language = jsLanguage;
  readonly description: string;
  readonly #threads: number;
  readonly #times: number[] = [];
  readonly #minWork: number;
  #pool?: Pool;

  constructor(name = 'cpu', caps: Partial<Caps> = {}, options: CpuOptions = {}) {
    this.name = name;
    this.caps = {
      dtypes: new Set(dtypes),
      maxBuffers: 31,
      statusBinding: false,
      maxBufferBytes: 2 ** 31 - 1,
      globalsAsLoops: true,
      timer: 'host',
      storage: {},
      workgroupSize: 1,
      maxGrid: 2 ** 31 - 1,
      threads: 1,
      ...caps,
    };
    this.#threads = threadsAvailable ? Math.max(1, options.threads ?? defaultThreads()) : 1;
    this.#minWork = options.minWork ?? 1e6;
    this.description = `JavaScript on the host CPU (${this.#threads} thread${this.#threads === 1 ? '' : 's'})`;
  }

  alloc(bytes: number): DeviceBuffer {
    return new CpuBuffer(this.#threads > 1 ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes));
  }
  free(_b: DeviceBuffer): void {}
  write(b: DeviceBuffer, data: Uint8Array, offset = 0): void {
    new Uint8Array((b as CpuBuffer).data).set(data, offset);
  }
  // a copy on a plain ArrayBuffer: callers own it, shared or not
  readNow(b: DeviceBuffer): Uint8Array {
    return new Uint8Array((b as CpuBuffer).data).slice();
  }
  async read(b: DeviceBuffer): Promise<Uint8Array> {
    return this.readNow(b);
  }

  async compile(kernel: Kernel, { source }: Rendered): Promise<Program> {
    // a source kernel (kernels/) runs whole on one thread: lo = hi = 0
    const outer = kernel.custom ? 0 : (launchShape(kernel).find((n) => n > 1) ?? 0);
    const p: CpuProgram = {
      name: kernel.name,
      source,
      fn: compileKernel(source),
      outer,
      work: kernel.custom ? 0 : work(kernel),
    };
    return p;
  }

  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], vals: readonly number[], timed = false): void {
    this.#run(
      p as CpuProgram,
      bufs.map((b, i) => viewOf(b, kernel.params[i]!.dtype)),
      vals,
      timed,
    );
  }

  #run(prog: CpuProgram, v: readonly ArrayBufferView[], vals: readonly number[], timed: boolean): void {
    const t0 = timed ? performance.now() : 0;
    const threads = Math.min(this.#threads, prog.outer);
    // a few chunks per thread, taken as threads come free: a late or preempted thread does less
    if (threads > 1 && prog.work >= this.#minWork)
      (this.#pool ??= new Pool()).run(
        prog.fn,
        prog.source,
        v,
        helpers,
        prog.outer,
        Math.min(prog.outer, 4 * threads),
        threads - 1,
        vals,
      );
    else prog.fn(v, helpers, 0, prog.outer, vals);
    if (timed) this.#times.push(performance.now() - t0);
  }

  async sync(): Promise<void> {}
  async takeTimes(): Promise<number[]> {
    return this.#times.splice(0);
  }

  /** The launches in order with their views and value lists made once, remade only for the entries that change. */
  graph(launches: readonly GraphLaunch[]): DeviceGraph {
    const views = launches.map((l) => new Array<ArrayBufferView>(l.bufs.length));
    const vals = launches.map((l) => new Array<number>(l.vals.length));
    const users = new Map<number, [number, number][]>(); // table entry -> (launch, param) pairs that bind it
    launches.forEach((l, li) => l.bufs.forEach((t, pi) => users.set(t, [...(users.get(t) ?? []), [li, pi]])));
    const bound: (DeviceBuffer | undefined)[] = [];
    return {
      run: (bufs, table) => {
        for (const [t, list] of users) {
          if (bufs[t] === bound[t]) continue;
          bound[t] = bufs[t];
          for (const [li, pi] of list) views[li]![pi] = viewOf(bufs[t]!, launches[li]!.kernel.params[pi]!.dtype);
        }
        for (let li = 0; li < launches.length; li++) {
          const l = launches[li]!,
            v = vals[li]!;
          for (let i = 0; i < v.length; i++) v[i] = table[l.vals[i]!]!;
          this.#run(l.program as CpuProgram, views[li]!, v, false);
        }
      },
      dispose: () => {
        bound.length = 0;
      },
    };
  }
}

const viewOf = (b: DeviceBuffer, d: DType): ArrayBufferView => new views[d]((b as CpuBuffer).data);
