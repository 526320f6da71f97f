// The CPU device: buffers are ArrayBuffers, kernels are the JS renderer's output compiled with new Function.
import type { DType } from '../codegen/dtype.js';
import type { Kernel } from '../codegen/kernel.js';
import { dtypes, f16ToF32, f32ToF16, f16round } from '../codegen/dtype.js';
import { jsLanguage } from '../codegen/js.js';
import type { Backend, Caps, DeviceBuffer, Program } from './backend.js';

class CpuBuffer implements DeviceBuffer {
  constructor(readonly data: ArrayBuffer) {}
  get bytes(): number { return this.data.byteLength; }
}

type KernelFn = (b: readonly ArrayBufferView[], h: typeof helpers) => void;
interface CpuProgram extends Program { readonly fn: KernelFn }

const scratch = new DataView(new ArrayBuffer(4));
const helpers = {
  h2f: f16ToF32,
  f2h: f32ToF16,
  f16: f16round,
  bitcast(v: number, from: DType, to: DType): number {
    if (from === 'f32') scratch.setFloat32(0, v); else if (from === 'i32') scratch.setInt32(0, v); else scratch.setUint32(0, v);
    return to === 'f32' ? scratch.getFloat32(0) : to === 'i32' ? scratch.getInt32(0) : scratch.getUint32(0);
  },
  check(v: number, lo: number, hi: number, message: string): number {
    if (v < lo || v > hi || !Number.isInteger(v)) throw new RangeError(`${message}: index ${v} is out of range [${lo}, ${hi}]`);
    return v;
  },
};

const views: Record<DType, new (b: ArrayBuffer) => ArrayBufferView> = {
  f32: Float32Array, f16: Uint16Array, i32: Int32Array, u32: Uint32Array, bool: Uint8Array,
};

export class CpuBackend implements Backend {
  readonly name: string;
  readonly caps: Caps;
  readonly language = jsLanguage;
  readonly description = 'JavaScript on the host CPU';
  readonly #programs = new Map<string, CpuProgram>();

  constructor(name = 'cpu', caps: Partial<Caps> = {}) {
    this.name = name;
    this.caps = { dtypes: new Set(dtypes), maxBuffers: 31, maxBufferBytes: 2 ** 31 - 1, globalsAsLoops: true, timer: 'host', storage: {}, workgroupSize: 1, maxGrid: 2 ** 31 - 1, threads: 1, ...caps };
  }

  alloc(bytes: number): DeviceBuffer { return new CpuBuffer(new ArrayBuffer(bytes)); }
  free(): void {}
  write(b: DeviceBuffer, data: Uint8Array): void { new Uint8Array((b as CpuBuffer).data).set(data); }
  async read(b: DeviceBuffer): Promise<Uint8Array> { return new Uint8Array((b as CpuBuffer).data.slice(0)); }

  async compile(kernel: Kernel, source: string): Promise<Program> {
    let p = this.#programs.get(source);
    if (!p) {
      p = { name: kernel.name, source, fn: new Function('b', 'h', source) as KernelFn };
      this.#programs.set(source, p);
    }
    return p;
  }

  launch(p: Program, kernel: Kernel, bufs: readonly DeviceBuffer[]): void {
    (p as CpuProgram).fn(bufs.map((b, i) => new views[kernel.params[i]!.dtype]((b as CpuBuffer).data)), helpers);
  }

  async sync(): Promise<void> {}
}
