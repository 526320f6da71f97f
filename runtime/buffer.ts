// Device memory owned by tensors: reference counted, freed at zero, counted in memory().
import { type DType, castValue, f16ToF32, f32ToF16, itemsize } from '../codegen/dtype.js';
import type { Identified } from '../codegen/uop.js';
import { type Backend, type DeviceBuffer, storageOf } from '../backends/backend.js';
import { recorder } from './capture.js';

export type TypedData = Float32Array | Int32Array | Uint32Array | Uint8Array;

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

  get stored(): DType { return storageOf(this.backend.caps, this.dtype); }
  get bytes(): number { return this.numel * itemsize(this.stored); }

  /** Copies host values in, converted to how the device stores this dtype. */
  upload(values: ArrayLike<number | boolean>): void {
    const n = values.length, d = this.stored;
    const arr = d === 'f32' ? new Float32Array(n) : d === 'f16' ? new Uint16Array(n) : d === 'i32' ? new Int32Array(n) : d === 'u32' ? new Uint32Array(n) : new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const v = Number(castValue(Number(values[i]), this.dtype));
      arr[i] = d === 'f16' ? f32ToF16(v) : v;
    }
    const bytes = new Uint8Array(arr.buffer);
    recorder()?.upload(this, bytes);
    this.backend.write(this.handle, bytes);
  }

  /** The values as a host typed array: f16 widens to Float32Array, bool comes back as 0/1 bytes. */
  async download(): Promise<TypedData> {
    recorder()?.download(this);
    const bytes = await this.backend.read(this.handle);
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + this.bytes);
    switch (this.stored) {
      case 'f32': return new Float32Array(ab);
      case 'f16': return Float32Array.from(new Uint16Array(ab), f16ToF32);
      case 'i32': return new Int32Array(ab);
      case 'u32': return this.dtype === 'bool' ? Uint8Array.from(new Uint32Array(ab), (v) => (v ? 1 : 0)) : new Uint32Array(ab);
      case 'bool': return new Uint8Array(ab);
      default: return this.stored satisfies never;
    }
  }
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

/** The uid the next buffer gets: every buffer made from now on has a uid at least this. */
export const nextBufferUid = (): number => nextUid;

/** Live device memory: buffers and bytes still allocated by polygrad. */
export const memory = (): { buffers: number; bytes: number } => ({ ...live });
