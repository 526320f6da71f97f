// The weight readers against corrupt files: every pickle opcode advances or fails (a GLOBAL without its newline
// once looped forever), shapes, strides and offsets are checked with the file and tensor named, and NaN/Inf weights
// are reported by name.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { SafetensorsFile } from '../../models/weights/safetensors.js';
import { StateDict } from '../../models/weights/state.js';
import { TorchCheckpoint } from '../../models/weights/torch.js';

const dir = mkdtempSync(join(tmpdir(), 'polygrad-readers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// --- a torch.save checkpoint built byte by byte: a stored zip holding archive/data.pkl and archive/data/0 ---

const u8 = (...b: number[]) => Buffer.from(b);
const str = (s: string) => Buffer.concat([u8(0x8c, s.length), Buffer.from(s)]); // SHORT_BINUNICODE
const int = (n: number) => {
  const b = Buffer.alloc(5);
  b[0] = 0x4a;
  b.writeInt32LE(n, 1);
  return b;
}; // BININT
const float = (x: number) => {
  const b = Buffer.alloc(9);
  b[0] = 0x47;
  b.writeDoubleBE(x, 1);
  return b;
}; // BINFLOAT
const global = (mod: string, name: string) => Buffer.from(`c${mod}\n${name}\n`);
const tuple = (...items: Buffer[]) => Buffer.concat([u8(0x28), ...items, u8(0x74)]); // MARK … TUPLE

/** The pickle of {name: tensor} with the given storage offset, shape and stride, as torch.save writes it. */
function statePickle(name: string, numel: number, offset: Buffer, shape: Buffer[], stride: Buffer[]): Buffer {
  const storage = Buffer.concat([
    tuple(str('storage'), global('torch', 'FloatStorage'), str('0'), str('cpu'), int(numel)),
    u8(0x51),
  ]);
  const rebuild = Buffer.concat([
    global('torch._utils', '_rebuild_tensor_v2'),
    tuple(
      storage,
      offset,
      tuple(...shape),
      tuple(...stride),
      u8(0x89),
      global('collections', 'OrderedDict'),
      u8(0x29, 0x52),
    ),
    u8(0x52),
  ]);
  return Buffer.concat([u8(0x80, 2, 0x7d), str(name), rebuild, u8(0x73, 0x2e)]);
}

/** A zip of stored (uncompressed) entries; the reader ignores CRCs, so they are left 0. */
function zip(entries: Record<string, Buffer>): Buffer {
  const locals: Buffer[] = [],
    central: Buffer[] = [];
  let at = 0;
  for (const [name, data] of Object.entries(entries)) {
    const head = Buffer.alloc(30);
    head.writeUInt32LE(0x04034b50, 0);
    head.writeUInt32LE(data.length, 18);
    head.writeUInt32LE(data.length, 22);
    head.writeUInt16LE(name.length, 26);
    const dirEntry = Buffer.alloc(46);
    dirEntry.writeUInt32LE(0x02014b50, 0);
    dirEntry.writeUInt32LE(data.length, 20);
    dirEntry.writeUInt32LE(data.length, 24);
    dirEntry.writeUInt16LE(name.length, 28);
    dirEntry.writeUInt32LE(at, 42);
    locals.push(head, Buffer.from(name), data);
    central.push(dirEntry, Buffer.from(name));
    at += 30 + name.length + data.length;
  }
  const dirBytes = Buffer.concat(central),
    end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(central.length / 2, 8);
  end.writeUInt16LE(central.length / 2, 10);
  end.writeUInt32LE(dirBytes.length, 12);
  end.writeUInt32LE(at, 16);
  return Buffer.concat([...locals, dirBytes, end]);
}

let files = 0;
const checkpoint = (pickle: Buffer, storage = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer)): string => {
  const path = join(dir, `c${files++}.ckpt`);
  writeFileSync(path, zip({ 'archive/data.pkl': pickle, 'archive/data/0': storage }));
  return path;
};
const open = (path: string) => () => new TorchCheckpoint(path);

describe('PyTorch checkpoint reader', () => {
  test('a well-formed hand-built checkpoint reads back, strides honoured', () => {
    const path = checkpoint(statePickle('w', 6, int(0), [int(3), int(2)], [int(1), int(3)]));
    const ck = new TorchCheckpoint(path);
    expect(ck.tensors.get('w')!.shape).toEqual([3, 2]);
    expect(Array.from(ck.tensors.get('w')!.read())).toEqual([1, 4, 2, 5, 3, 6]);
    ck.close();
  });

  test('a GLOBAL without its newline fails at once instead of looping', () => {
    const path = checkpoint(
      Buffer.concat([u8(0x80, 2, 0x7d), str('w'), Buffer.from('ctorch._utils_rebuild_tensor_v2')]),
    );
    const start = performance.now();
    expect(open(path)).toThrow(`torch: ${path}: a GLOBAL opcode at byte 6 has no newline`);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  test('a pickle cut short is named as such, with the file', () => {
    const whole = statePickle('w', 6, int(0), [int(6)], [int(1)]);
    expect(open(checkpoint(whole.subarray(0, whole.length - 1)))).toThrow(
      /^torch: .*\.ckpt: the pickle ends without a STOP opcode/,
    );
    // a BININT cut short
    expect(open(checkpoint(u8(0x80, 2, 0x4a, 1, 2)))).toThrow(/^torch: .*\.ckpt: corrupt checkpoint \(.*out of range/);
    expect(open(checkpoint(u8(0x80, 2, 0x8c, 9, 0x61)))).toThrow(
      /^torch: .*\.ckpt: a string of 9 bytes at byte 4 runs past the end/,
    );
    expect(open(checkpoint(Buffer.concat([u8(0x80, 2), u8(0x74)])))).toThrow(/needs a MARK that is not there/);
  });

  test('negative, fractional and non-numeric shapes, strides and offsets are refused by name', () => {
    const bad = (offset: Buffer, shape: Buffer[], stride: Buffer[]) =>
      open(checkpoint(statePickle('enc.w', 6, offset, shape, stride)));
    expect(bad(int(0), [int(-2), int(3)], [int(3), int(1)])).toThrow(
      /^torch: .*: tensor enc\.w: shape is \[-2,3\]; expected a list of non-negative integers$/,
    );
    expect(bad(int(0), [int(2), int(3)], [int(3), float(0.5)])).toThrow(
      'tensor enc.w: stride is [3,0.5]; expected a list of non-negative integers',
    );
    expect(bad(int(-4), [int(6)], [int(1)])).toThrow(
      'tensor enc.w: storage offset is -4; expected a non-negative integer',
    );
    expect(bad(int(0), [str('6')], [int(1)])).toThrow(
      'tensor enc.w: shape is ["6"]; expected a list of non-negative integers',
    );
    expect(bad(int(0), [int(2), int(3)], [int(3)])).toThrow('tensor enc.w has shape [2,3] but strides [3]');
    // in bounds element by element, but the strided view reaches past the 6-element storage
    expect(bad(int(1), [int(2), int(3)], [int(3), int(1)])).toThrow(/tensor enc\.w runs past its storage/);
    expect(bad(int(0), [int(3), int(2)], [int(1), int(4)])).toThrow(/tensor enc\.w runs past its storage/);
  });

  test('zip entries that point past the end of the file are refused', () => {
    const bytes = zip({
      'archive/data.pkl': statePickle('w', 6, int(0), [int(6)], [int(1)]),
      'archive/data/0': Buffer.alloc(24),
    });
    const end = bytes.length - 22,
      dirAt = bytes.readUInt32LE(end + 16);
    bytes.writeUInt32LE(1 << 30, dirAt + 42); // the first entry's local header offset
    const path = join(dir, 'far.ckpt');
    writeFileSync(path, bytes);
    expect(open(path)).toThrow(`torch: ${path}: entry archive/data.pkl starts past the end of the file (truncated?)`);
  });
});

describe('safetensors reader', () => {
  const file = (header: unknown, data = Buffer.alloc(64)): string => {
    const json = Buffer.from(JSON.stringify(header)),
      len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    const path = join(dir, `s${files++}.safetensors`);
    writeFileSync(path, Buffer.concat([len, json, data]));
    return path;
  };
  const open = (header: unknown) => {
    const path = file(header);
    return [() => new SafetensorsFile(path), path] as const;
  };

  test('malformed headers fail with the file and tensor named', () => {
    const cases: [unknown, RegExp | string][] = [
      [
        { w: { dtype: 'F32', shape: [-2, -2], data_offsets: [0, 16] } },
        'tensor w: shape is [-2,-2]; expected a list of non-negative integers',
      ],
      [
        { w: { dtype: 'F32', shape: [1.5, 2], data_offsets: [0, 12] } },
        'tensor w: shape is [1.5,2]; expected a list of non-negative integers',
      ],
      [
        { w: { dtype: 'F32', shape: '4', data_offsets: [0, 16] } },
        'tensor w: shape is "4"; expected a list of non-negative integers',
      ],
      [
        { w: { dtype: 'F32', shape: [4], data_offsets: [-16, 0] } },
        'tensor w: data_offsets[0] is -16; expected a non-negative integer',
      ],
      [{ w: { dtype: 'F32', shape: [4], data_offsets: [0] } }, 'tensor w: data_offsets is [0]; expected [begin, end]'],
      [
        { w: { dtype: 'Q4', shape: [4], data_offsets: [0, 16] } },
        'tensor w: unsupported dtype "Q4" (expected one of F32, F16, BF16, I32, I64)',
      ],
      [{ w: null }, 'tensor w: unsupported dtype undefined'],
      [
        { w: { dtype: 'F32', shape: [32], data_offsets: [0, 128] } },
        'tensor w runs past the end of the file (truncated?)',
      ],
      [[1, 2], 'header is not a JSON object'],
    ];
    for (const [header, message] of cases) {
      const [read, path] = open(header);
      expect(read).toThrow(`safetensors: ${path}: ${String(message)}`);
    }
  });
});

describe('non-finite weights', () => {
  test('NaN and Inf values load but are reported with the tensor names', () => {
    const values: Record<string, Float32Array> = {
      ok: new Float32Array([1, 2, 3, 4]),
      nan: new Float32Array([1, NaN, 3, 4]),
      inf: new Float32Array([-Infinity, 0, 0, 0]),
    };
    const sd = new StateDict({ names: Object.keys(values), shape: () => [4], read: (n) => values[n]! }, 'cpu');
    for (const name of Object.keys(values)) sd.take(name, [4], 1);
    expect(sd.report().nonFinite.sort()).toEqual(['inf', 'nan']);
  });
});
