// Device memory owned by tensors: reference counted, freed at zero, counted in memory().
import { type DType, bf16ToF32, castValue, f16ToF32, f32ToBf16, f32ToF16, isHalf, itemsize } from '../codegen/dtype.js';
import type { Identified } from '../codegen/uop.js';
import { type Backend, type DeviceBuffer, storageOf } from '../backends/backend.js';
import { recorder } from './capture.js';
import { type Layout, chunkElems } from '../codegen/shard.js';

export type TypedData = Float32Array | Int32Array | Uint32Array | Uint8Array;

let nextUid = 0;
const live = { buffers: 0, bytes: 0, peak: 0 };

/** Host values as the bytes of `stored` (how a device keeps `dtype`): values are cast to dtype first. */
export function encode(values: ArrayLike<number | boolean>, dtype: DType, stored: DType): Uint8Array {
  const n = values.length;
  if (stored === 'f32' && dtype === 'f32' && values instanceof Float32Array)
    return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const arr =
    stored === 'f32'
      ? new Float32Array(n)
      : isHalf(stored)
        ? new Uint16Array(n)
        : stored === 'i32'
          ? new Int32Array(n)
          : stored === 'u32'
            ? new Uint32Array(n)
            : new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const v = Number(castValue(Number(values[i]), dtype));
    arr[i] = stored === 'f16' ? f32ToF16(v) : stored === 'bf16' ? f32ToBf16(v) : v;
  }
  return new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);
}

/**
 * Device bytes of `stored` back as host values of `dtype`: f16 and bf16 widen to Float32Array, bool comes back as 0/1
 * bytes.
 * `bytes` are the caller's to give away (a backend's read, an assembled copy): where they fill their whole buffer the
 * result is a view of it (a 4 MB read is then one copy, not two), else a copy of the part.
 */
export function decode(bytes: Uint8Array, dtype: DType, stored: DType): TypedData {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength,
    ab = whole ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  switch (stored) {
    case 'f32':
      return new Float32Array(ab);
    case 'f16':
      return Float32Array.from(new Uint16Array(ab), f16ToF32);
    case 'bf16':
      return Float32Array.from(new Uint16Array(ab), bf16ToF32);
    case 'i32':
      return new Int32Array(ab);
    case 'u32':
      return dtype === 'bool' ? Uint8Array.from(new Uint32Array(ab), (v) => (v ? 1 : 0)) : new Uint32Array(ab);
    case 'bool':
      return new Uint8Array(ab);
    default:
      return stored satisfies never;
  }
}

/**
 * A tensor's storage: one device buffer, or several chunks of whole rows when it is larger than one buffer may be
 * on its device (codegen/shard.ts splits the kernels that touch it). `row`: elements per row (rowElems(shape)).
 */
export class Buffer implements Identified {
  readonly uid = nextUid++;
  readonly chunkElems: number;
  #handles: DeviceBuffer[] | undefined;
  #refs = 0;

  constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly numel: number,
    row = numel,
  ) {
    this.chunkElems = Math.max(1, chunkElems(numel, row, backend.caps.maxBufferBytes));
    const per = itemsize(this.stored),
      handles: DeviceBuffer[] = [];
    try {
      for (let at = 0; at < Math.max(numel, 1); at += this.chunkElems) {
        handles.push(backend.alloc(Math.max(4, Math.ceil((Math.min(this.chunkElems, numel - at) * per) / 4) * 4)));
      }
    } catch (e) {
      for (const h of handles) backend.free(h); // a failed allocation keeps nothing
      throw new Error(
        `alloc: ${numel} × ${this.dtype} (${this.bytes} bytes) failed on ${backend.name} with ${live.bytes} bytes ` +
          `already allocated by polygrad: ${(e as Error).message}`,
        { cause: e },
      );
    }
    this.#handles = handles;
    live.buffers++;
    live.bytes += this.bytes;
    live.peak = Math.max(live.peak, live.bytes);
  }

  /** How many device buffers hold the elements (known after the buffer is freed, too). */
  get chunks(): number {
    return Math.max(1, Math.ceil(this.numel / this.chunkElems));
  }
  /** How the elements are stored: chunkElems per chunk (at least numel: one buffer). */
  get layout(): Layout {
    return { numel: this.numel, chunkElems: this.chunkElems };
  }
  get stored(): DType {
    return storageOf(this.backend.caps, this.dtype);
  }
  get bytes(): number {
    return this.numel * itemsize(this.stored);
  }

  /** Copies host values in (values[i] is element `offset + i`), converted to how the device stores this dtype. */
  upload(values: ArrayLike<number | boolean>, offset = 0): void {
    const d = this.stored,
      per = itemsize(d);
    for (let c = Math.floor(offset / this.chunkElems); c * this.chunkElems < offset + values.length; c++) {
      const from = Math.max(offset, c * this.chunkElems),
        to = Math.min(offset + values.length, (c + 1) * this.chunkElems, this.numel);
      const [a, b] = [from - offset, to - offset];
      const part = ArrayBuffer.isView(values)
        ? (values as Float32Array).subarray(a, b)
        : (Array.prototype.slice.call(values, a, b) as boolean[]);
      const bytes = encode(part, this.dtype, d);
      recorder()?.upload(this, bytes);
      this.backend.write(this.handles[c]!, bytes, (from - c * this.chunkElems) * per);
    }
  }

  /** The values as a host typed array: f16 and bf16 widen to Float32Array, bool comes back as 0/1 bytes. */
  async download(): Promise<TypedData> {
    recorder()?.download(this);
    return this.#assemble(await Promise.all(this.handles.map((h) => this.backend.read(h))));
  }
  /** The values at once where the device's memory is the host's (console.log of a CPU tensor), else undefined. */
  downloadNow(): TypedData | undefined {
    const { readNow } = this.backend;
    return readNow && !this.freed ? this.#assemble(this.handles.map((h) => readNow.call(this.backend, h))) : undefined;
  }
  #assemble(parts: readonly Uint8Array[]): TypedData {
    const per = itemsize(this.stored);
    // one chunk goes to decode as the backend read it (ours to give away): no copy here
    if (parts.length === 1) return decode(parts[0]!.subarray(0, this.numel * per), this.dtype, this.stored);
    const bytes = new Uint8Array(this.numel * per);
    parts.forEach((p, c) =>
      bytes.set(
        p.subarray(0, Math.min(this.chunkElems, this.numel - c * this.chunkElems) * per),
        c * this.chunkElems * per,
      ),
    );
    return decode(bytes, this.dtype, this.stored);
  }
  get freed(): boolean {
    return this.#handles === undefined;
  }
  /** The device buffers of the chunks, in order. */
  get handles(): readonly DeviceBuffer[] {
    if (!this.#handles) throw new Error(`buffer ${this.uid} (${this.numel} × ${this.dtype}) was already freed`);
    return this.#handles;
  }

  retain(): this {
    this.#refs++;
    return this;
  }
  release(): void {
    if (--this.#refs <= 0) this.free();
  }
  free(): void {
    if (!this.#handles) return;
    for (const h of this.#handles) this.backend.free(h);
    this.#handles = undefined;
    live.buffers--;
    live.bytes -= this.bytes;
  }
}

/** The uid the next buffer gets: every buffer made from now on has a uid at least this. */
export const nextBufferUid = (): number => nextUid;

/** Live device memory: buffers and bytes still allocated by polygrad, and the most bytes live at once so far. */
export const memory = (): { buffers: number; bytes: number; peak: number } => ({ ...live });
/** Starts counting the peak again from what is live now. */
export const resetPeak = (): void => {
  live.peak = live.bytes;
};
