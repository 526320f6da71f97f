// Training data for the demo NeuralOS: seeded random sessions on the synthetic desktop, written as .npy arrays the
// PyTorch training script memory-maps (frames, cursor, clicks, held keys, open window) plus meta.json.
//   node dist/scripts/demo/dump.js OUT_DIR --sessions N --frames T --seed S
//   node dist/scripts/demo/dump.js OUT_DIR --scripted     (the end-to-end checks' session alone)
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Desktop, SCREEN } from '../../app/desktop/desktop.js';
import { randomSession, scriptedSession } from '../../app/desktop/sessions.js';
import { KEYS, keyIndex } from '../../models/neuralos/keys.js';

type Typed = Uint8Array | Int8Array | Int16Array;

/** One array in NumPy's .npy format (version 1.0, C order, little-endian). */
function npy(data: Typed, shape: readonly number[]): Buffer {
  const descr = data instanceof Uint8Array ? '|u1' : data instanceof Int8Array ? '|i1' : '<i2';
  const dims = `${shape.join(', ')}${shape.length === 1 ? ',' : ''}`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${dims}), }`;
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`; // magic, version, length and header: 64k bytes
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), body]);
}

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    scripted: { type: 'boolean' },
    sessions: { type: 'string', default: '1600' },
    frames: { type: 'string', default: '32' },
    seed: { type: 'string', default: '1' },
  },
});
const out = positionals[0];
if (!out) throw new Error('usage: node dist/scripts/demo/dump.js OUT_DIR [--sessions N] [--frames T] [--seed S]');
const script = values.scripted ? scriptedSession() : undefined;
const N = script ? 1 : Number(values.sessions),
  T = script ? script.length : Number(values.frames);
const seed = Number(values.seed);
const { width: W, height: H } = SCREEN,
  K = KEYS.length;
const frames = new Uint8Array(N * T * H * W * 3),
  x = new Int16Array(N * T),
  y = new Int16Array(N * T);
const left = new Uint8Array(N * T),
  right = new Uint8Array(N * T),
  open = new Int8Array(N * T);
const keys = new Uint8Array(N * T * K);
for (let n = 0; n < N; n++) {
  const desk = new Desktop(),
    held = new Set<number>();
  (script ?? randomSession(seed * 1_000_003 + n, T)).forEach((e, t) => {
    const i = n * T + t;
    frames.set(desk.step(e), i * H * W * 3);
    for (const k of e.keys_down ?? []) held.add(keyIndex(k)!);
    for (const k of e.keys_up ?? []) held.delete(keyIndex(k)!);
    x[i] = e.x;
    y[i] = e.y;
    open[i] = desk.state.open;
    left[i] = e.is_left_click ? 1 : 0;
    right[i] = e.is_right_click ? 1 : 0;
    for (const k of held) keys[i * K + k] = 1;
  });
}
mkdirSync(out, { recursive: true });
const arrays = {
  frames: npy(frames, [N, T, H, W, 3]),
  x: npy(x, [N, T]),
  y: npy(y, [N, T]),
  left: npy(left, [N, T]),
  right: npy(right, [N, T]),
  keys: npy(keys, [N, T, K]),
  open: npy(open, [N, T]),
};
for (const [name, buf] of Object.entries(arrays)) writeFileSync(join(out, `${name}.npy`), buf);
const meta = { sessions: N, frames: T, seed, scripted: !!script, screen: SCREEN, arrays: Object.keys(arrays) };
writeFileSync(join(out, 'meta.json'), JSON.stringify(meta));
console.log(`dump: ${N} sessions × ${T} frames (${W}×${H}) -> ${out}`);
