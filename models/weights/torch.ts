// PyTorch checkpoints (torch.save's zip: archive/data.pkl + archive/data/<key>) without Python: a zip
// directory reader, a pickle machine for the opcodes state dicts use, and lazily read tensor storages.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { f16ToF32 } from '../../codegen/dtype.js';
import { checkCount, checkDims } from './check.js';

interface Entry {
  readonly offset: number;
  readonly size: number;
}
export interface TorchTensorInfo {
  readonly name: string;
  readonly shape: number[];
  readonly dtype: string;
  read(): Float32Array;
  /** Elements [start, start + count) in row-major order, reading only their bytes where the tensor is contiguous. */
  readRange(start: number, count: number): Float32Array;
}

const storageBytes: Record<string, number> = {
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  IntStorage: 4,
  LongStorage: 8,
  DoubleStorage: 8,
  BoolStorage: 1,
  ByteStorage: 1,
};

class Zip {
  readonly entries = new Map<string, Entry>();
  constructor(
    readonly fd: number,
    readonly path: string,
  ) {
    const fileSize = fstatSync(fd).size;
    const tailLen = Math.min(fileSize, 65557),
      tail = Buffer.alloc(tailLen);
    readSync(fd, tail, 0, tailLen, fileSize - tailLen);
    let eocd = -1;
    for (let i = tailLen - 22; i >= 0; i--)
      if (tail.readUInt32LE(i) === 0x06054b50) {
        eocd = i;
        break;
      }
    if (eocd < 0) throw new Error(`torch: ${path} is not a zip archive (not a torch.save checkpoint, or truncated)`);
    let count = tail.readUInt16LE(eocd + 10),
      dirSize = tail.readUInt32LE(eocd + 12),
      dirOffset = tail.readUInt32LE(eocd + 16);
    if (dirOffset === 0xffffffff || count === 0xffff) {
      // zip64: the locator sits just before the end record
      const loc = eocd - 20;
      const z64 = Number(tail.readBigUInt64LE(loc + 8)),
        rec = Buffer.alloc(56);
      readSync(fd, rec, 0, 56, z64);
      count = Number(rec.readBigUInt64LE(32));
      dirSize = Number(rec.readBigUInt64LE(40));
      dirOffset = Number(rec.readBigUInt64LE(48));
    }
    if (dirOffset + dirSize > fileSize)
      throw new Error(`torch: ${path}: the zip directory lies past the end of the file (truncated?)`);
    const dir = Buffer.alloc(dirSize);
    readSync(fd, dir, 0, dirSize, dirOffset);
    for (let p = 0, i = 0; i < count; i++) {
      if (dir.readUInt32LE(p) !== 0x02014b50) throw new Error(`torch: ${path}: corrupt zip directory`);
      const method = dir.readUInt16LE(p + 10),
        nameLen = dir.readUInt16LE(p + 28),
        extraLen = dir.readUInt16LE(p + 30),
        commentLen = dir.readUInt16LE(p + 32);
      let size = dir.readUInt32LE(p + 20),
        local = dir.readUInt32LE(p + 42);
      const name = dir.toString('utf8', p + 46, p + 46 + nameLen);
      for (let e = p + 46 + nameLen; e < p + 46 + nameLen + extraLen; ) {
        const id = dir.readUInt16LE(e),
          len = dir.readUInt16LE(e + 2);
        if (id === 1) {
          let q = e + 4;
          if (dir.readUInt32LE(p + 24) === 0xffffffff) q += 8;
          if (size === 0xffffffff) {
            size = Number(dir.readBigUInt64LE(q));
            q += 8;
          }
          if (local === 0xffffffff) local = Number(dir.readBigUInt64LE(q));
        }
        e += 4 + len;
      }
      if (method !== 0)
        throw new Error(
          `torch: ${path}: entry ${name} is compressed (method ${method}); torch.save writes stored entries`,
        );
      const lh = Buffer.alloc(30);
      if (local + 30 > fileSize)
        throw new Error(`torch: ${path}: entry ${name} starts past the end of the file (truncated?)`);
      readSync(fd, lh, 0, 30, local);
      const offset = local + 30 + lh.readUInt16LE(26) + lh.readUInt16LE(28);
      if (offset + size > fileSize)
        throw new Error(`torch: ${path}: entry ${name} runs past the end of the file (truncated?)`);
      this.entries.set(name, { offset, size });
      p += 46 + nameLen + extraLen + commentLen;
    }
  }
  read(name: string): Buffer {
    const e = this.entries.get(name);
    if (!e) throw new Error(`torch: ${this.path} has no entry ${name}`);
    const b = Buffer.alloc(e.size);
    readSync(this.fd, b, 0, e.size, e.offset);
    return b;
  }
}

type Py = unknown;
class Global {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
}
class Storage {
  constructor(
    readonly type: string,
    readonly key: string,
    readonly numel: number,
  ) {}
}
class TensorRef {
  constructor(
    readonly storage: Storage,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {}
}
/** A tensor as the pickle spells it: checked, with its name, into a TensorRef once the state dict is read. */
class RawTensor {
  constructor(
    readonly storage: Py,
    readonly offset: Py,
    readonly shape: Py,
    readonly stride: Py,
  ) {}
}

function checkTensor(name: string, raw: RawTensor): TensorRef {
  if (!(raw.storage instanceof Storage))
    throw new Error(`tensor ${name} is rebuilt from something that is not a storage`);
  const shape = checkDims(`tensor ${name}: shape`, raw.shape),
    stride = checkDims(`tensor ${name}: stride`, raw.stride);
  if (shape.length !== stride.length) throw new Error(`tensor ${name} has shape [${shape}] but strides [${stride}]`);
  checkCount(`tensor ${name}: storage size`, raw.storage.numel);
  return new TensorRef(raw.storage, checkCount(`tensor ${name}: storage offset`, raw.offset), shape, stride);
}

/** Runs a pickle program far enough for torch state dicts (protocol 2). */
function unpickle(data: Buffer, persistent: (pid: Py) => Py): Py {
  const stack: Py[] = [],
    memo = new Map<number, Py>(),
    marks: number[] = [];
  let p = 0;
  const popMark = (): Py[] => {
    const m = marks.pop();
    if (m === undefined) throw new Error(`an opcode at byte ${p - 1} needs a MARK that is not there`);
    return stack.splice(m);
  };
  const call = (fn: Py, args: Py[]): Py => {
    if (!(fn instanceof Global)) throw new Error('the pickle calls a non-global');
    const id = `${fn.module}.${fn.name}`;
    if (id === 'collections.OrderedDict') return new Map();
    if (id === 'torch._utils._rebuild_tensor_v2' || id === 'torch._utils._rebuild_tensor') {
      const [storage, offset, shape, stride] = args;
      return new RawTensor(storage, offset, shape, stride);
    }
    if (id === 'torch._utils._rebuild_parameter') return args[0];
    throw new Error(`the checkpoint uses ${id}, which this reader does not support`);
  };
  // every opcode consumes its bytes or fails: reads past the end throw (RangeError, reported with the file by the
  // caller), a GLOBAL without its newlines is an error, and the end of the data without STOP is one
  const text = (from: number, n: number): string => {
    if (from + n > data.length)
      throw new Error(`a string of ${n} bytes at byte ${from} runs past the end of the pickle`);
    return data.toString('utf8', from, from + n);
  };
  const line = (from: number): number => {
    const nl = data.indexOf(10, from);
    if (nl < 0) throw new Error(`a GLOBAL opcode at byte ${from - 1} has no newline`);
    return nl;
  };
  for (;;) {
    if (p >= data.length) throw new Error('the pickle ends without a STOP opcode (truncated?)');
    const op = data[p++];
    switch (op) {
      case 0x80:
        p++;
        break; // PROTO
      case 0x95:
        p += 8;
        break; // FRAME
      case 0x7d:
        stack.push(new Map());
        break; // EMPTY_DICT
      case 0x5d:
        stack.push([]);
        break; // EMPTY_LIST
      case 0x29:
        stack.push([]);
        break; // EMPTY_TUPLE
      case 0x28:
        marks.push(stack.length);
        break; // MARK
      case 0x58: {
        const n = data.readUInt32LE(p);
        stack.push(text(p + 4, n));
        p += 4 + n;
        break;
      } // BINUNICODE
      case 0x8c: {
        const n = data.readUInt8(p);
        stack.push(text(p + 1, n));
        p += 1 + n;
        break;
      } // SHORT_BINUNICODE
      case 0x71:
        memo.set(data[p++]!, stack[stack.length - 1]);
        break; // BINPUT
      case 0x72:
        memo.set(data.readUInt32LE(p), stack[stack.length - 1]);
        p += 4;
        break; // LONG_BINPUT
      case 0x94:
        memo.set(memo.size, stack[stack.length - 1]);
        break; // MEMOIZE
      case 0x68:
        stack.push(memo.get(data[p++]!));
        break; // BINGET
      case 0x6a:
        stack.push(memo.get(data.readUInt32LE(p)));
        p += 4;
        break; // LONG_BINGET
      case 0x63: {
        // GLOBAL
        const nl1 = line(p),
          mod = data.toString('utf8', p, nl1);
        const nl2 = line(nl1 + 1),
          name = data.toString('utf8', nl1 + 1, nl2);
        stack.push(new Global(mod, name));
        p = nl2 + 1;
        break;
      }
      case 0x93: {
        const name = stack.pop() as string,
          mod = stack.pop() as string;
        stack.push(new Global(mod, name));
        break;
      } // STACK_GLOBAL
      case 0x51:
        stack.push(persistent(stack.pop()));
        break; // BINPERSID
      case 0x74:
        stack.push(popMark());
        break; // TUPLE
      case 0x85:
        stack.push([stack.pop()]);
        break; // TUPLE1
      case 0x86: {
        const b = stack.pop(),
          a = stack.pop();
        stack.push([a, b]);
        break;
      } // TUPLE2
      case 0x87: {
        const c = stack.pop(),
          b = stack.pop(),
          a = stack.pop();
        stack.push([a, b, c]);
        break;
      } // TUPLE3
      case 0x4a:
        stack.push(data.readInt32LE(p));
        p += 4;
        break; // BININT
      case 0x4b:
        stack.push(data[p++]);
        break; // BININT1
      case 0x4d:
        stack.push(data.readUInt16LE(p));
        p += 2;
        break; // BININT2
      case 0x8a: {
        // LONG1
        const n = data[p++]!;
        let v = 0n;
        for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(data[p + i]!);
        if (n && data[p + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
        stack.push(Number(v));
        p += n;
        break;
      }
      case 0x47:
        stack.push(data.readDoubleBE(p));
        p += 8;
        break; // BINFLOAT
      case 0x88:
        stack.push(true);
        break;
      case 0x89:
        stack.push(false);
        break;
      case 0x4e:
        stack.push(null);
        break;
      case 0x52: {
        const args = stack.pop() as Py[],
          fn = stack.pop();
        stack.push(call(fn, args));
        break;
      } // REDUCE
      case 0x81: {
        const args = stack.pop() as Py[],
          cls = stack.pop();
        stack.push(call(cls, args));
        break;
      } // NEWOBJ
      case 0x62:
        stack.pop();
        break; // BUILD: keep the object as is
      case 0x73: {
        const v = stack.pop(),
          k = stack.pop();
        (stack[stack.length - 1] as Map<Py, Py>).set(k, v);
        break;
      } // SETITEM
      case 0x75: {
        const items = popMark(),
          d = stack[stack.length - 1] as Map<Py, Py>;
        for (let i = 0; i < items.length; i += 2) d.set(items[i], items[i + 1]);
        break;
      } // SETITEMS
      case 0x61: {
        const v = stack.pop();
        (stack[stack.length - 1] as Py[]).push(v);
        break;
      } // APPEND
      case 0x65: {
        const items = popMark();
        (stack[stack.length - 1] as Py[]).push(...items);
        break;
      } // APPENDS
      case 0x2e:
        return stack.pop(); // STOP
      default:
        throw new Error(
          `unsupported pickle opcode 0x${(op ?? 0).toString(16)} at byte ${p - 1} (a corrupt or non-checkpoint file?)`,
        );
    }
  }
}

/** An open PyTorch checkpoint: the state dict's tensors (a Lightning `state_dict` entry is unwrapped). */
export class TorchCheckpoint {
  readonly tensors: ReadonlyMap<string, TorchTensorInfo>;
  readonly #fd: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, 'r');
    try {
      const zip = new Zip(this.#fd, path);
      const pkl = [...zip.entries.keys()].find((n) => n.endsWith('/data.pkl'));
      if (!pkl) throw new Error('no data.pkl in the zip (not a torch.save checkpoint)');
      const prefix = pkl.slice(0, -'data.pkl'.length);
      const root = unpickle(zip.read(pkl), (pid) => {
        const [, type, key, , numel] = pid as [string, Global, string, string, number];
        return new Storage(type.name, key, numel);
      });
      const dict =
        root instanceof Map && root.get('state_dict') instanceof Map ? (root.get('state_dict') as Map<Py, Py>) : root;
      if (!(dict instanceof Map)) throw new Error('the pickle does not hold a state dict');
      const tensors = new Map<string, TorchTensorInfo>();
      for (const [name, value] of dict) {
        if (!(value instanceof RawTensor)) continue;
        const t = checkTensor(String(name), value);
        const item = storageBytes[t.storage.type];
        if (!item) throw new Error(`tensor ${String(name)} has unsupported storage ${t.storage.type}`);
        const entry = zip.entries.get(`${prefix}data/${t.storage.key}`);
        if (!entry) throw new Error(`storage ${t.storage.key} of ${String(name)} is missing (truncated file?)`);
        // the last element a strided view reaches must lie in the storage (an empty tensor reaches none)
        const last = t.shape.some((n) => n === 0)
          ? -1
          : t.offset + t.shape.reduce((a, n, d) => a + (n - 1) * t.stride[d]!, 0);
        if ((last + 1) * item > entry.size)
          throw new Error(`tensor ${String(name)} runs past its storage (truncated file?)`);
        tensors.set(String(name), {
          name: String(name),
          shape: t.shape,
          dtype: t.storage.type,
          read: () => this.#read(zip, entry, t, item),
          readRange: (start, count) => this.#readRange(zip, entry, t, item, start, count),
        });
      }
      this.tensors = tensors;
    } catch (e) {
      closeSync(this.#fd);
      const message = e instanceof Error ? e.message : String(e);
      if (message.startsWith(`torch: ${path}`)) throw e;
      // a read past the end of a corrupt pickle is a RangeError from Buffer: say what it means
      throw new Error(`torch: ${path}: ${e instanceof RangeError ? `corrupt checkpoint (${message})` : message}`);
    }
  }

  #readRange(zip: Zip, entry: Entry, t: TensorRef, item: number, start: number, count: number): Float32Array {
    const contiguous = t.shape.every(
      (n, d) => n === 1 || t.stride[d] === t.shape.slice(d + 1).reduce((a, b) => a * b, 1),
    );
    if (!contiguous) return this.#read(zip, entry, t, item).slice(start, start + count);
    const raw = Buffer.alloc(count * item);
    readSync(zip.fd, raw, 0, raw.length, entry.offset + (t.offset + start) * item);
    return decode(raw, t.storage.type, count, (i) => i);
  }

  #read(zip: Zip, entry: Entry, t: TensorRef, _item: number): Float32Array {
    const raw = Buffer.alloc(entry.size);
    readSync(zip.fd, raw, 0, entry.size, entry.offset);
    // honour strides: element idx -> storage offset + sum(idx_d * stride_d)
    const dims = t.shape.length;
    return decode(
      raw,
      t.storage.type,
      t.shape.reduce((a, b) => a * b, 1),
      (i) => {
        let rem = i,
          off = t.offset;
        for (let d = dims - 1; d >= 0; d--) {
          const s = t.shape[d]!;
          off += (rem % s) * t.stride[d]!;
          rem = Math.floor(rem / s);
        }
        return off;
      },
    );
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** n float32 values from the bytes of a torch storage type, element i at storage index at(i). */
function decode(raw: Buffer, type: string, n: number, at: (i: number) => number): Float32Array {
  const out = new Float32Array(n);
  const get = (i: number): number => {
    switch (type) {
      case 'FloatStorage':
        return raw.readFloatLE(i * 4);
      case 'HalfStorage':
        return f16ToF32(raw.readUInt16LE(i * 2));
      case 'BFloat16Storage':
        return new Float32Array(new Uint32Array([raw.readUInt16LE(i * 2) << 16]).buffer)[0]!;
      case 'DoubleStorage':
        return raw.readDoubleLE(i * 8);
      case 'IntStorage':
        return raw.readInt32LE(i * 4);
      case 'LongStorage':
        return Number(raw.readBigInt64LE(i * 8));
      default:
        return raw[i]!;
    }
  };
  for (let i = 0; i < n; i++) out[i] = get(at(i));
  return out;
}
