// safetensors, read and written one tensor at a time (a checkpoint never sits in one ArrayBuffer):
// 8-byte little-endian header size, a JSON header {name: {dtype, shape, data_offsets}}, then the bytes.
import { closeSync, openSync, readSync, writeSync, fstatSync } from 'node:fs';
import { f16ToF32, f32ToF16 as f32ToF16Bits } from '../../codegen/dtype.js';
import { checkCount, checkDims } from './check.js';

export type StoredDtype = 'F32' | 'F16' | 'BF16' | 'I32' | 'I64';
export interface TensorInfo {
  readonly name: string;
  readonly dtype: StoredDtype;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}
const bytesOf: Record<StoredDtype, number> = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 };

/** One header entry, checked: a known dtype, an integer shape, offsets within the data that match the shape. */
function checkEntry(name: string, v: unknown, dataBytes: number): TensorInfo {
  const {
    dtype,
    shape,
    data_offsets: offsets,
  } = (v ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (typeof dtype !== 'string' || !(dtype in bytesOf)) {
    throw new Error(
      `tensor ${name}: unsupported dtype ${JSON.stringify(dtype)} (expected one of ${Object.keys(bytesOf).join(', ')})`,
    );
  }
  const dims = checkDims(`tensor ${name}: shape`, shape);
  if (!Array.isArray(offsets) || offsets.length !== 2) {
    throw new Error(`tensor ${name}: data_offsets is ${JSON.stringify(offsets)}; expected [begin, end]`);
  }
  const begin = checkCount(`tensor ${name}: data_offsets[0]`, offsets[0]),
    end = checkCount(`tensor ${name}: data_offsets[1]`, offsets[1]);
  const want = dims.reduce((a, b) => a * b, 1) * bytesOf[dtype as StoredDtype];
  if (end - begin !== want)
    throw new Error(`tensor ${name}: ${end - begin} bytes for shape [${dims}] ${dtype} (expected ${want})`);
  if (end > dataBytes) throw new Error(`tensor ${name} runs past the end of the file (truncated?)`);
  return { name, dtype: dtype as StoredDtype, shape: dims, begin, end };
}

/** An open safetensors file: the header is parsed, tensors are read on demand. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  readonly #fd: number;
  readonly #base: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, 'r');
    const size = fstatSync(this.#fd).size;
    const fail = (why: string): never => {
      closeSync(this.#fd);
      throw new Error(`safetensors: ${path}: ${why}`);
    };
    if (size < 8) fail(`file too short (${size} bytes)`);
    const head = Buffer.alloc(8);
    readSync(this.#fd, head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    if (n <= 0 || n > 100_000_000 || 8 + n > size)
      fail(`bad header length ${n} for a ${size}-byte file (not a safetensors file?)`);
    const json = Buffer.alloc(n);
    readSync(this.#fd, json, 0, n, 8);
    let header: unknown;
    try {
      header = JSON.parse(json.toString('utf8'));
    } catch {
      fail('header is not JSON (not a safetensors file?)');
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
    this.#base = 8 + n;
    const entries = header as Record<string, unknown>;
    this.metadata = (entries.__metadata__ as Record<string, string> | undefined) ?? {};
    const tensors = new Map<string, TensorInfo>();
    try {
      for (const [name, v] of Object.entries(entries)) {
        if (name !== '__metadata__') tensors.set(name, checkEntry(name, v, size - this.#base));
      }
    } catch (e) {
      fail((e as Error).message);
    }
    this.tensors = tensors;
  }

  /** The tensor's values as float32 (f16/bf16 widened, ints converted). */
  read(name: string): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`safetensors: ${this.path} has no tensor ${name}`);
    return this.readRange(
      name,
      0,
      t.shape.reduce((a, b) => a * b, 1),
    );
  }

  /** Elements [start, start + count) of the tensor as float32, reading only their bytes. */
  readRange(name: string, start: number, count: number): Float32Array {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`safetensors: ${this.path} has no tensor ${name}`);
    const item = { F32: 4, F16: 2, BF16: 2, I32: 4, I64: 8 }[t.dtype];
    const raw = Buffer.alloc(count * item);
    readSync(this.#fd, raw, 0, raw.length, this.#base + t.begin + start * item);
    const n = count,
      dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      switch (t.dtype) {
        case 'F32':
          out[i] = dv.getFloat32(4 * i, true);
          break;
        case 'F16':
          out[i] = f16ToF32(dv.getUint16(2 * i, true));
          break;
        case 'BF16':
          out[i] = new Float32Array(new Uint32Array([dv.getUint16(2 * i, true) << 16]).buffer)[0]!;
          break;
        case 'I32':
          out[i] = dv.getInt32(4 * i, true);
          break;
        case 'I64':
          out[i] = Number(dv.getBigInt64(8 * i, true));
          break;
      }
    }
    return out;
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** A tensor to write: all its values at once (`data`), or `read(start, count)` for pieces of a large one. */
export type TensorToWrite = { name: string; shape: readonly number[] } & (
  | { data: () => Float32Array }
  | { read: (start: number, count: number) => Float32Array }
);

/** Writes tensors one by one to `path` (f32 or f16), in the given order; `read` entries in pieces of 4 M elements. */
export function writeSafetensors(
  path: string,
  entries: Iterable<TensorToWrite>,
  dtype: 'F32' | 'F16' = 'F32',
  metadata: Record<string, string> = {},
): void {
  const list = [...entries];
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const e of list) {
    const bytes = e.shape.reduce((a, b) => a * b, 1) * bytesOf[dtype];
    header[e.name] = { dtype, shape: [...e.shape], data_offsets: [at, at + bytes] };
    at += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const fd = openSync(path, 'w');
  const put = (v: Float32Array) => {
    if (dtype === 'F32') writeSync(fd, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
    else writeSync(fd, new Uint8Array(Uint16Array.from(v, (x) => f32ToF16Bits(x)).buffer));
  };
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, json);
    for (const e of list) {
      if ('data' in e) {
        put(e.data());
        continue;
      }
      const n = e.shape.reduce((a, b) => a * b, 1),
        piece = 1 << 22;
      for (let start = 0; start < n; start += piece) put(e.read(start, Math.min(piece, n - start)));
    }
  } finally {
    closeSync(fd);
  }
}
