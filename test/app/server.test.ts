// The player server: frames for valid input, clear errors for bad input, a connection cap, a socket closed
// mid-frame, and sessions that never see each other's state.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { memory } from '../../index.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';
import { startPlayer } from '../../app/server.js';
import { FRAME_HEADER_BYTES } from '../../app/protocol.js';

let model: NeuralOS, player: Awaited<ReturnType<typeof startPlayer>>, wsUrl: string;

beforeAll(async () => {
  model = await NeuralOS.load(tinyConfig);
  player = await startPlayer({
    model,
    host: '127.0.0.1',
    port: 0,
    steps: 1,
    maxClients: 2,
    info: { backend: 'cpu', screen: tinyConfig.screen },
  });
  wsUrl = `${player.url.replace('http', 'ws')}ws`;
}, 60_000);
afterAll(() => player.close());

/** A client that collects text messages and binary frames. */
async function connect(): Promise<{
  ws: WebSocket;
  texts: Record<string, unknown>[];
  frames: Uint8Array[];
  closed: Promise<number>;
  next(kind: 'text' | 'frame'): Promise<unknown>;
}> {
  const ws = new WebSocket(wsUrl);
  const texts: Record<string, unknown>[] = [],
    frames: Uint8Array[] = [];
  const queues: Record<'text' | 'frame', unknown[]> = { text: [], frame: [] };
  const waiters: { kind: 'text' | 'frame'; resolve: (v: unknown) => void }[] = [];
  ws.on('message', (data, binary) => {
    const kind = binary ? 'frame' : 'text';
    const item = binary ? new Uint8Array(data as Buffer) : (JSON.parse(String(data)) as Record<string, unknown>);
    (binary ? frames : texts).push(item as never);
    const i = waiters.findIndex((w) => w.kind === kind);
    if (i >= 0) waiters.splice(i, 1)[0]!.resolve(item);
    else queues[kind].push(item);
  });
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const next = (kind: 'text' | 'frame'): Promise<unknown> =>
    queues[kind].length
      ? Promise.resolve(queues[kind].shift())
      : new Promise((resolve) => waiters.push({ kind, resolve }));
  return { ws, texts, frames, closed, next };
}

const move = (x: number, y: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ x, y, is_left_click: false, is_right_click: false, keys_down: [], keys_up: [], ...extra });

describe('player server', () => {
  test('serves the page and its info', async () => {
    expect(await (await fetch(player.url)).text()).toContain('<canvas id="screen"');
    expect(await (await fetch(`${player.url}player.js`)).text()).toContain('new WebSocket');
    expect(await (await fetch(`${player.url}info`)).json()).toMatchObject({ backend: 'cpu' });
  });

  test('an input event comes back as a binary frame; settings and steps work', async () => {
    const c = await connect();
    c.ws.send(JSON.stringify({ type: 'get_settings' }));
    expect(await c.next('text')).toMatchObject({ type: 'settings', steps: 1 });
    c.ws.send(JSON.stringify({ type: 'update_sampling_steps', steps: 2 }));
    expect(await c.next('text')).toMatchObject({ type: 'settings', steps: 2 });
    c.ws.send(move(10, 20));
    const f = (await c.next('frame')) as Uint8Array;
    const dv = new DataView(f.buffer, f.byteOffset);
    expect([dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true)]).toEqual([64, 64, 0]);
    expect(f.length).toBe(FRAME_HEADER_BYTES + 64 * 64 * 3);
    c.ws.close();
  }, 30_000);

  test('bad messages get an error and the connection keeps working', async () => {
    const c = await connect();
    const bad: [string, RegExp][] = [
      ['{not json', /^malformed JSON/],
      ['[1,2]', /expected a JSON object/],
      [JSON.stringify({ x: 'a', y: 3 }), /x must be a number in \[0, 63\], got "a"/],
      [JSON.stringify({ x: 5, y: null }), /y must be a number in \[0, 63\], got null/],
      [JSON.stringify({ x: 5, y: 5, keys_down: 'a' }), /keys_down must be a list of at most 16 key names/],
      [JSON.stringify({ x: 5, y: 5, is_left_click: 1 }), /is_left_click must be a boolean/],
      [JSON.stringify({ type: 'update_sampling_steps', steps: 99 }), /steps must be an integer in \[1, 32\]/],
      [JSON.stringify({ type: 'update_sampling_steps', steps: 9 }), /9 steps put the last DDIM timestep at 1000/],
      [JSON.stringify({ type: 'launch_missiles' }), /unknown message type "launch_missiles"/],
      ['x'.repeat(5000), /message too large: 5000 bytes/],
    ];
    for (const [msg, want] of bad) {
      c.ws.send(msg);
      expect(((await c.next('text')) as { type: string; message: string }).message).toMatch(want);
    }
    c.ws.send(move(3, 4));
    expect(((await c.next('frame')) as Uint8Array).length).toBe(FRAME_HEADER_BYTES + 64 * 64 * 3);
    c.ws.close();
  }, 30_000);

  test('a pointer off the screen is clamped onto it, as the reference server does', async () => {
    const c = await connect();
    c.ws.send(move(70.5, -3));
    const got = ((await c.next('frame')) as Uint8Array).subarray(FRAME_HEADER_BYTES);
    const alone = model.session();
    const want = await alone.step({ x: 63, y: 0 }, { steps: 1 });
    expect(Buffer.from(got).equals(Buffer.from(want.image))).toBe(true);
    alone.reset();
    c.ws.close();
  }, 30_000);

  test('connections past the cap are refused with a reason; the others keep serving', async () => {
    const [a, b] = [await connect(), await connect()];
    const c = await connect();
    expect(await c.next('text')).toMatchObject({
      type: 'error',
      message: 'too many connections (max 2); try again later',
    });
    expect(await c.closed).toBe(1013);
    a.ws.send(move(1, 1));
    expect(((await a.next('frame')) as Uint8Array).length).toBe(FRAME_HEADER_BYTES + 64 * 64 * 3);
    a.ws.close();
    b.ws.close();
    await Promise.all([a.closed, b.closed]);
  }, 30_000);

  test('a socket closed mid-frame frees its session and the server goes on', async () => {
    const idle = await connect();
    idle.ws.send(move(2, 2));
    await idle.next('frame');
    const before = memory().buffers;
    const c = await connect();
    c.ws.send(move(30, 30, { is_left_click: true }));
    c.ws.close();
    await c.closed;
    await new Promise((r) => setTimeout(r, 1500)); // the frame in flight finishes, nothing is sent
    expect(memory().buffers).toBe(before);
    idle.ws.send(move(5, 6));
    expect(((await idle.next('frame')) as Uint8Array).length).toBe(FRAME_HEADER_BYTES + 64 * 64 * 3);
    idle.ws.close();
  }, 30_000);

  test('two connections never share state', async () => {
    const events = [
      move(10, 12),
      move(40, 33, { keys_down: ['a'] }),
      move(20, 50, { keys_up: ['a'], is_left_click: true }),
    ];
    const a = await connect(),
      b = await connect();
    const got: Uint8Array[] = [];
    for (const [i, e] of events.entries()) {
      a.ws.send(e);
      b.ws.send(move(63 - i * 7, i * 9, { keys_down: ['Shift'] })); // interleaved, different input
      got.push(((await a.next('frame')) as Uint8Array).subarray(FRAME_HEADER_BYTES));
      await b.next('frame');
    }
    const alone = model.session();
    for (const [i, e] of events.entries()) {
      const f = await alone.step(JSON.parse(e) as never, { steps: 1 });
      expect(Buffer.from(got[i]!).equals(Buffer.from(f.image)), `frame ${i}`).toBe(true);
    }
    alone.reset();
    a.ws.close();
    b.ws.close();
  }, 60_000);
});

describe('weights streamed per tensor (browser mode)', () => {
  test('range requests deliver the checkpoint; the model built from them renders the reference frame', async () => {
    const { fetchWeights } = await import('../../app/web/weights.js');
    const { SafetensorsFile } = await import('../../models/weights/safetensors.js');
    const file = 'test/fixtures/neuralos/weights.safetensors';
    const p = await startPlayer({
      model,
      host: '127.0.0.1',
      port: 0,
      steps: 4,
      maxClients: 1,
      info: {},
      weightsFile: file,
    });
    try {
      const head = await fetch(`${p.url}weights`, { method: 'HEAD' });
      expect(head.headers.get('accept-ranges')).toBe('bytes');
      expect((await fetch(`${p.url}weights`, { headers: { Range: 'bytes=0-7' } })).status).toBe(206);
      expect((await fetch(`${p.url}weights`, { headers: { Range: 'bytes=999999999-' } })).status).toBe(416);
      const progress: number[] = [];
      const source = await fetchWeights(`${p.url}weights`, (done, total) => progress.push(done / total));
      expect(progress.at(-1)).toBe(1);
      const streamed = await NeuralOS.load(tinyConfig, { weights: source });
      expect(streamed.report.problems).toEqual([]);
      const cases = new SafetensorsFile('test/fixtures/neuralos/cases.safetensors');
      await streamed.step({ x: 10, y: 20 }, { steps: 4, noise: cases.read('frames.noise0') });
      const got = await streamed.previousLatent!.data(),
        want = cases.read('frames.latent0');
      const scale = Math.max(...want.map(Math.abs));
      got.forEach((v, i) => expect(Math.abs(v - want[i]!)).toBeLessThanOrEqual(1e-4 * scale));
      cases.close();
    } finally {
      await p.close();
    }
  }, 60_000);
});

test('a port in use is a clear error', async () => {
  const port = Number(new URL(player.url).port);
  await expect(startPlayer({ model, host: '127.0.0.1', port, steps: 1, maxClients: 1, info: {} })).rejects.toThrow(
    `player: port ${port} on 127.0.0.1 is in use; pass --port N (or --port 0 for any free port)`,
  );
});
