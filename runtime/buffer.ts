// Device memory owned by tensors: reference counted, freed at zero, counted in memory().
import { type DType, itemsize } from '../codegen/dtype.js';
import type { Identified } from '../codegen/uop.js';
import type { Backend, DeviceBuffer } from '../backends/backend.js';

let nextUid = 0;
const live = { buffers: 0, bytes: 0 };

export class Buffer implements Identified {
  readonly uid = nextUid++;
  #handle: DeviceBuffer | undefined;
  #refs = 0;

  constructor(readonly backend: Backend, readonly dtype: DType, readonly numel: number) {
    const bytes = this.bytes;
    if (numel >= 2 ** 31) throw new Error(`alloc: ${numel} elements of ${dtype} exceed 32-bit indexing (2^31 - 1 elements)`);
    if (bytes > backend.caps.maxBufferBytes) {
      throw new Error(`alloc: ${numel} × ${dtype} = ${bytes} bytes exceeds the largest buffer ${backend.name} allows (${backend.caps.maxBufferBytes} bytes)`);
    }
    this.#handle = backend.alloc(Math.max(4, Math.ceil(bytes / 4) * 4));
    live.buffers++;
    live.bytes += bytes;
  }

  get bytes(): number { return this.numel * itemsize(this.dtype); }
  get freed(): boolean { return this.#handle === undefined; }
  get handle(): DeviceBuffer {
    if (!this.#handle) throw new Error(`buffer ${this.uid} (${this.numel} × ${this.dtype}) was already freed`);
    return this.#handle;
  }

  retain(): this { this.#refs++; return this; }
  release(): void {
    if (--this.#refs <= 0) this.free();
  }
  free(): void {
    if (!this.#handle) return;
    this.backend.free(this.#handle);
    this.#handle = undefined;
    live.buffers--;
    live.bytes -= this.bytes;
  }
}

/** Live device memory: buffers and bytes still allocated by polygrad. */
export const memory = (): { buffers: number; bytes: number } => ({ ...live });
