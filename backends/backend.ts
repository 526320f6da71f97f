// The small interface every device implements, and the capabilities the scheduler and codegen read.
import type { DType } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import type { Language } from '../codegen/render.js';

export interface Caps {
  readonly dtypes: ReadonlySet<DType>;
  /** Storage buffers one kernel may bind (inputs + outputs). */
  readonly maxBuffers: number;
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
  /** Threads the device keeps busy at once: the optimizer splits long reduces (GROUP) until a kernel has about this many. */
  readonly threads: number;
}

/** The dtype a buffer of `d` holds on a device with these caps. */
export const storageOf = (caps: Caps, d: DType): DType => caps.storage[d] ?? d;

export interface DeviceBuffer { readonly bytes: number }
export interface Program { readonly name: string; readonly source: string }

export interface Backend {
  readonly name: string;
  readonly caps: Caps;
  readonly language: Language;
  /** Human-readable adapter / device description. */
  readonly description: string;
  alloc(bytes: number): DeviceBuffer;
  free(b: DeviceBuffer): void;
  write(b: DeviceBuffer, data: Uint8Array): void;
  read(b: DeviceBuffer): Promise<Uint8Array>;
  compile(kernel: Kernel, source: string): Promise<Program>;
  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[], timed?: boolean): void;
  /** Resolves when every launched kernel has finished. */
  sync(): Promise<void>;
  /** Device milliseconds of the last timed launch (after sync), where the device has a timer. */
  lastTime?(): Promise<number | undefined>;
}
