// The small interface every device implements, and the capabilities the scheduler and codegen read.
import type { DType } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import type { Language, Rendered } from '../codegen/render.js';

export interface Caps {
  readonly dtypes: ReadonlySet<DType>;
  /** Storage buffers one kernel may bind (inputs + outputs, and the status word where statusBinding). */
  readonly maxBuffers: number;
  /** Index checks report through a status word bound after a kernel's params (GPUs; the CPU throws). */
  readonly statusBinding: boolean;
  /** Largest single buffer in bytes. */
  readonly maxBufferBytes: number;
  /** The CPU runs the global space as loops; GPUs launch it as a grid. */
  readonly globalsAsLoops: boolean;
  readonly timer: 'device' | 'host';
  /** How a dtype is stored when the device lacks it in memory (WebGPU keeps bool as u32). */
  readonly storage: Partial<Readonly<Record<DType, DType>>>;
  /** Threads per workgroup/block the renderer may use, and the largest grid dimension. */
  readonly workgroupSize: number;
  readonly maxGrid: number;
  /**
   * Threads the device keeps busy at once: the optimizer splits long reduces (GROUP) until a kernel has about this
   * many.
   */
  readonly threads: number;
  /** Workgroup memory one workgroup may use for staged tiles (STAGE), in bytes; absent where there is none. */
  readonly sharedBytes?: number;
  /** The matrix units the device's threads can drive together (absent or empty: none). */
  readonly tensorCores?: readonly TensorCore[];
}

/**
 * A matrix unit: the threads of a warp (or subgroup) multiply an [m, k] fragment of `input` by a [k, n] one into an
 * [m, n] fragment of `acc`, through `api` (CUDA's WMMA or mma.sync PTX, WebGPU's experimental subgroup matrices).
 */
export interface TensorCore {
  readonly api: 'wmma' | 'mma.sync' | 'subgroup-matrix';
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly input: DType;
  readonly acc: DType;
  /**
   * The most threads that drive one unit together where the device picks how many (a WebGPU subgroup: the adapter's
   * subgroupMaxSize); a workgroup must be a whole number of them. Absent: a 32-thread warp.
   */
  readonly maxSubgroup?: number;
  /** Where each lane's registers sit in A, B and C, for APIs that leave the fragments to the program (mma.sync). */
  readonly layout?: { readonly a: FragmentLayout; readonly b: FragmentLayout; readonly c: FragmentLayout };
}

/**
 * The elements a lane holds of one fragment, as data: bit j of the lane index moves an element by lane[j] (rows,
 * cols) and bit i of its register slot by elem[i]; slot e of lane l is at the sum of the steps of their set bits.
 * A is m×k, B k×n, C m×n; two 16-bit slots share a 32-bit register, the lower slot in the low half.
 */
export interface FragmentLayout {
  readonly lane: readonly (readonly [number, number])[];
  readonly elem: readonly (readonly [number, number])[];
}

/** Tensor cores in one line, as `polygrad devices` prints them: api, m×n×k, input→acc, any widest subgroup. */
export const describeTensorCores = (cores: readonly TensorCore[] | undefined): string =>
  cores?.length
    ? cores
        .map((t) => {
          const widest = t.maxSubgroup ? ` (subgroups ≤ ${t.maxSubgroup})` : '';
          return `${t.api} ${t.m}×${t.n}×${t.k} ${t.input}→${t.acc}${widest}`;
        })
        .join(', ')
    : 'none';

/** The dtype a buffer of `d` holds on a device with these caps. */
export const storageOf = (caps: Caps, d: DType): DType => caps.storage[d] ?? d;

export interface DeviceBuffer {
  readonly bytes: number;
}
export interface Program {
  readonly name: string;
  readonly source: string;
}

/** One launch of a captured step (jit): which entries of the buffer and value tables each run it reads. */
export interface GraphLaunch {
  readonly program: Program;
  readonly kernel: Kernel;
  readonly bufs: readonly number[];
  readonly vals: readonly number[];
}
/** A captured step a backend replays as a unit: each run gets the tables, the entries that changed are rebound. */
export interface DeviceGraph {
  run(bufs: readonly DeviceBuffer[], vals: readonly number[]): void;
  dispose(): void;
}

export interface Backend {
  readonly name: string;
  readonly caps: Caps;
  readonly language: Language;
  /** Human-readable adapter / device description. */
  readonly description: string;
  alloc(bytes: number): DeviceBuffer;
  free(b: DeviceBuffer): void;
  /** Copies host bytes into the buffer at byte `offset` (a multiple of 4). */
  write(b: DeviceBuffer, data: Uint8Array, offset?: number): void;
  /** The buffer's bytes, in memory of the caller's own (a copy nothing else holds: the caller may keep it). */
  read(b: DeviceBuffer): Promise<Uint8Array>;
  /**
   * The buffer's bytes at once (a copy, as read's), where the host holds them (the CPU); absent where a read must
   * wait for the device.
   */
  readNow?(b: DeviceBuffer): Uint8Array;
  /** Compiles a rendered kernel (or a source kernel's own source, which reports no index checks). */
  compile(kernel: Kernel, program: Rendered): Promise<Program>;
  /**
   * Queues a kernel over `bufs` (its params in order) with `vals`, its variables' values in order (f32 values
   * already rounded). A timed launch is measured and reported by the next takeTimes().
   */
  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], vals: readonly number[], timed?: boolean): void;
  /** Resolves when every launched kernel has finished. */
  sync(): Promise<void>;
  /**
   * Milliseconds of every timed launch since the last call, in launch order: device timestamps resolved in one
   * batch (call after sync), or the host's clock where the device runs launches synchronously (caps.timer 'host').
   */
  takeTimes(): Promise<number[]>;
  /** A replayable list of launches (jit); without it the runtime replays launch by launch. */
  graph?(launches: readonly GraphLaunch[]): DeviceGraph;
}
