// The player server against the web: a missing file is a 404 (never the end of the process), foreign Hosts and
// Origins are refused, a token guards a server beyond loopback, one player's burst of clicks neither starves
// another nor keeps HTTP from answering, a bad frame from a refused connection ends only that connection, a reader
// that is behind gets frames and replies dropped instead of a growing buffer, a request Node cannot parse is a 400,
// and a reset during a frame is not undone by it.
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcp } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { FRAME_HEADER_BYTES } from '../../app/protocol.js';
import { MAX_BUFFERED, type Player, startPlayer } from '../../app/server.js';
import { MAX_PENDING, PlayerSession } from '../../app/session.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';

let model: NeuralOS, player: Player, base: string;
const logs: string[] = [];
const dir = mkdtempSync(join(tmpdir(), 'polygrad-player-'));
const weights = join(dir, 'weights.safetensors');

/** A player of the tiny model on a free loopback port, one step a frame, with these options besides. */
const playerWith = (o: Partial<Parameters<typeof startPlayer>[0]>): Promise<Player> =>
  startPlayer({ model, host: '127.0.0.1', port: 0, steps: 1, maxClients: 1, info: {}, ...o });

beforeAll(async () => {
  model = await NeuralOS.load(tinyConfig);
  copyFileSync('test/fixtures/neuralos/weights.safetensors', weights);
  player = await playerWith({ maxClients: 2, weightsFile: weights, log: (l) => logs.push(l) });
  base = player.url;
}, 60_000);
afterAll(async () => {
  await player.close();
  rmSync(dir, { recursive: true, force: true });
});

const frameBytes = FRAME_HEADER_BYTES + 64 * 64 * 3;
const move = (x: number, y: number, extra: Record<string, unknown> = {}) => JSON.stringify({ x, y, ...extra });
const open = async (url: string, options?: ConstructorParameters<typeof WebSocket>[2]) => {
  const ws = new WebSocket(url, options);
  const frames: Uint8Array[] = [],
    texts: { type: string; message?: string }[] = [];
  ws.on('message', (d, binary) =>
    binary ? frames.push(new Uint8Array(d as Buffer)) : texts.push(JSON.parse(String(d)) as never),
  );
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  return { ws, frames, texts, closed: new Promise<void>((r) => ws.on('close', () => r())) };
};
const until = async (cond: () => boolean, what: string, ms = 60_000): Promise<void> => {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};
/** Bytes written to the server as they are, and what comes back until it closes. */
const raw = (text: string): Promise<string> =>
  new Promise((resolve, reject) => {
    const s = tcp(Number(new URL(base).port), '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => {
      out += String(d);
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
/** A raw HTTP request with a chosen Host header (fetch does not let one set it). */
const rawGet = (path: string, host: string): Promise<string> =>
  raw(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);

describe('requests that used to kill the server', () => {
  test('a missing bundle file is a 404 and the server goes on', async () => {
    expect((await fetch(`${base}web/nothing-here.js`)).status).toBe(404);
    expect((await fetch(`${base}info`)).status).toBe(200);
  });
  test('a weights file deleted while serving is a 404, then the server goes on', async () => {
    expect((await fetch(`${base}weights`, { headers: { Range: 'bytes=0-7' } })).status).toBe(206);
    rmSync(weights);
    expect((await fetch(`${base}weights`, { headers: { Range: 'bytes=0-7' } })).status).toBe(404);
    expect((await fetch(`${base}info`)).status).toBe(200);
  });
  test('only GET and HEAD; security headers; If-None-Match gives 304', async () => {
    const post = await fetch(base, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const page = await fetch(base);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    const again = await fetch(base, { headers: { 'if-none-match': page.headers.get('etag')! } });
    expect(again.status).toBe(304);
  });
  test('a request line Node cannot parse is answered 400 before the socket closes; the server goes on', async () => {
    expect(await raw('GARBAGE\r\n\r\n')).toMatch(/^HTTP\/1.1 400 Bad Request\r\n/);
    expect(await raw('GET / HTTP/1.1\r\nHost: x\r\nbad header line\r\n\r\n')).toMatch(/^HTTP\/1.1 400 /);
    expect(logs.some((l) => l.startsWith('player: unparsable request: 400 Bad Request'))).toBe(true);
    expect((await fetch(`${base}info`)).status).toBe(200);
  });
});

describe('who may use the server', () => {
  test('a foreign Host (DNS rebinding) is refused; the server own names are not', async () => {
    expect(await rawGet('/info', `evil.example:${new URL(base).port}`)).toMatch(
      /^HTTP\/1.1 403[\s\S]*Host "evil.example:\d+" is not this server/,
    );
    expect(await rawGet('/info', `localhost:${new URL(base).port}`)).toMatch(/^HTTP\/1.1 200/);
    expect(logs.some((l) => l.includes('403 Host "evil.example'))).toBe(true);
  });
  test('a WebSocket from a foreign page is refused; from the page itself it opens', async () => {
    const ws = `${base.replace('http', 'ws')}ws`;
    await expect(open(ws, { origin: 'https://evil.example' })).rejects.toThrow(/403/);
    const own = await open(ws, { origin: base.slice(0, -1) });
    own.ws.close();
    await own.closed;
  });
  test('beyond loopback a token is required, in the query once and then as a cookie', async () => {
    const p = await playerWith({ token: 'sesame', log: () => {} });
    try {
      expect((await fetch(`${p.url}info`)).status).toBe(403);
      const page = await fetch(`${p.url}?token=sesame`);
      expect(page.status).toBe(200);
      const cookie = page.headers.get('set-cookie')!.split(';')[0]!;
      expect(cookie).toBe('polygrad_token=sesame');
      expect((await fetch(`${p.url}info`, { headers: { cookie } })).status).toBe(200);
      expect((await fetch(`${p.url}info`, { headers: { cookie: 'polygrad_token=wrong' } })).status).toBe(403);
      await expect(open(`${p.url.replace('http', 'ws')}ws`)).rejects.toThrow(/403/);
      const c = await open(`${p.url.replace('http', 'ws')}ws`, { headers: { cookie } });
      c.ws.close();
      await c.closed;
    } finally {
      await p.close();
    }
  });
});

describe('fair and bounded sessions', () => {
  test('a burst of clicks is bounded, and another player and HTTP are served in between', async () => {
    const a = await open(`${base.replace('http', 'ws')}ws`),
      b = await open(`${base.replace('http', 'ws')}ws`);
    try {
      const refused = () => a.texts.filter((t) => t.message?.startsWith('input queue full')).length;
      for (let i = 0; i < 300; i++) a.ws.send(move(i % 64, (3 * i) % 64, { is_left_click: true }));
      await until(() => refused() > 0, 'the first refusal');
      // HTTP is answered between two of a's frames, not after its queue
      // (frames already on the wire arrive meanwhile: a few, against a queue of MAX_PENDING)
      const atRequest = a.frames.length,
        atAnswer = await fetch(`${base}info`).then(() => a.frames.length);
      expect(atAnswer - atRequest).toBeLessThanOrEqual(4);
      // round robin: the other player waits for the frame in flight, not for the whole queue
      const atSend = a.frames.length;
      b.ws.send(move(5, 5));
      await until(() => b.frames.length === 1, "the other player's frame");
      expect(a.frames.length - atSend).toBeLessThanOrEqual(4);
      // every event of the burst became a frame or was refused with a message, and most were refused
      await until(() => a.frames.length + refused() === 300, 'the whole burst accounted for');
      expect(refused()).toBeGreaterThan(150);
    } finally {
      a.ws.close();
      b.ws.close();
      await Promise.all([a.closed, b.closed]);
    }
  }, 120_000);

  test("a departed player's queue is abandoned at once", async () => {
    const a = await open(`${base.replace('http', 'ws')}ws`),
      b = await open(`${base.replace('http', 'ws')}ws`);
    try {
      for (let i = 0; i < MAX_PENDING; i++) a.ws.send(move(i, i, { is_left_click: true }));
      await until(() => a.frames.length >= 1, "a's first frame");
      a.ws.close();
      await a.closed;
      const atClose = a.frames.length;
      b.ws.send(move(6, 6));
      await until(() => b.frames.length === 1, "b's frame");
      // b's frame did not wait for the rest of a's queue (at most the frame in flight ran)
      expect(atClose).toBeLessThan(MAX_PENDING - 2);
    } finally {
      b.ws.close();
      await b.closed;
    }
  }, 60_000);

  test('a bad frame from a connection over the cap ends that connection only', async () => {
    const [x, y] = [await open(`${base.replace('http', 'ws')}ws`), await open(`${base.replace('http', 'ws')}ws`)];
    // a hand-made handshake, then an unmasked client frame (a protocol error) on the refused connection
    const port = Number(new URL(base).port);
    await new Promise<void>((resolve) => {
      const s = tcp(port, '127.0.0.1', () =>
        s.write(
          [
            'GET /ws HTTP/1.1',
            `Host: 127.0.0.1:${port}`,
            'Upgrade: websocket',
            'Connection: Upgrade',
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
            'Sec-WebSocket-Version: 13',
            '',
            '',
          ].join('\r\n'),
        ),
      );
      s.once('data', () => s.write(Buffer.from([0x81, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f])));
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    x.ws.send(move(7, 7));
    await until(() => x.frames.length === 1, 'a frame after the bad connection');
    x.ws.close();
    y.ws.close();
    await Promise.all([x.closed, y.closed]);
  }, 60_000);

  test('a reader that is behind gets frames and replies dropped, not queued (the outlet says so)', async () => {
    // the server's outlet is congested while the socket holds more than maxBufferedBytes unsent; a loopback socket's
    // kernel buffers hold megabytes first, so the rule is checked here on the session with an outlet that says so
    let congested = true;
    const frames: Uint8Array[] = [],
      texts: Record<string, unknown>[] = [];
    const s = new PlayerSession(
      model,
      { json: (o) => texts.push(o), frame: (f) => frames.push(f), open: () => true, congested: () => congested },
      1,
      {},
    );
    try {
      for (let i = 0; i < 6; i++) s.receive(move(i, i, { is_left_click: true }));
      await until(() => s.dropped === 6, 'six dropped frames');
      expect(frames).toHaveLength(0);
      for (const m of ['{"type":"get_settings"}', '{"type":"heartbeat"}', 'not json']) s.receive(m);
      expect([s.droppedReplies, texts]).toEqual([3, []]);
      congested = false;
      s.receive(move(9, 9));
      await until(() => frames.length === 1, 'a frame once the reader caught up');
      expect(frames[0]!.length).toBe(frameBytes);
      expect(texts).toEqual([]);
    } finally {
      s.close();
    }
  }, 60_000);

  test('a client that sends but never reads gets its replies dropped, not buffered without bound', async () => {
    // every settings reply carries the info: 64 KB each, so the socket's buffer passes its bound after ~64 replies
    // even with the kernel's loopback buffers taking their share first
    const p = await playerWith({ info: { note: 'x'.repeat(64 * 1024) }, log: (l) => logs.push(l) });
    try {
      const c = await open(`${p.url.replace('http', 'ws')}ws`);
      c.ws.pause(); // reads nothing from now on
      const sent = 1500;
      for (let i = 0; i < sent; i++) c.ws.send(JSON.stringify({ type: 'get_settings' }));
      await until(() => p.droppedReplies() > 0, 'the first dropped reply');
      c.ws.resume();
      await until(() => c.texts.length + p.droppedReplies() === sent, 'every reply received or counted as dropped');
      // what reached the client is what the socket's bound (MAX_BUFFERED) and the kernel's buffers held: 96 MB were
      // asked for, far more than both
      expect(c.texts.length * 64 * 1024).toBeLessThan(MAX_BUFFERED + 48 * 2 ** 20);
      expect(c.texts.every((t) => t.type === 'settings')).toBe(true);
      c.ws.close();
      await c.closed;
      await until(() => logs.some((l) => /did not read had \d+ replies dropped/.test(l)), 'the log line');
    } finally {
      await p.close();
    }
  }, 60_000);

  test('a waiting move is superseded by the next event; clicks and keys are all rendered, in order', async () => {
    const frames: Uint8Array[] = [];
    const s = new PlayerSession(model, { json: () => {}, frame: (f) => frames.push(f), open: () => true }, 1, {});
    const events = [
      { x: 3, y: 4 }, // rendered at once: the session was idle
      { x: 9, y: 9 }, // waiting, then superseded by the click
      { x: 20, y: 30, is_left_click: true },
      { x: 21, y: 31, keys_down: ['a'] },
      { x: 40, y: 41 },
    ];
    try {
      for (const e of events) s.receive(JSON.stringify(e));
      await until(() => frames.length === 4 && !s.waiting, 'four frames');
      const alone = model.session();
      for (const [i, e] of [events[0]!, events[2]!, events[3]!, events[4]!].entries()) {
        const want = await alone.step(e, { steps: 1 });
        expect(Buffer.from(frames[i]!.subarray(FRAME_HEADER_BYTES)).equals(Buffer.from(want.image)), `frame ${i}`).toBe(
          true,
        );
      }
      alone.reset();
    } finally {
      s.close();
    }
  }, 60_000);

  test('a reset during a frame is applied after it and not undone', async () => {
    const c = await open(`${base.replace('http', 'ws')}ws`);
    c.ws.send(move(30, 30, { is_left_click: true }));
    c.ws.send(move(31, 30, { is_left_click: true }));
    c.ws.send(JSON.stringify({ type: 'reset' }));
    await until(() => c.texts.some((t) => t.type === 'reset_done'), 'reset_done');
    const n = c.frames.length;
    c.ws.send(move(5, 6));
    await until(() => c.frames.length === n + 1, 'the frame after the reset');
    const fresh = model.session(),
      want = await fresh.step({ x: 5, y: 6 }, { steps: 1 });
    fresh.reset();
    expect(Buffer.from(c.frames[n]!.subarray(FRAME_HEADER_BYTES)).equals(Buffer.from(want.image))).toBe(true);
    c.ws.close();
    await c.closed;
  }, 60_000);
});
