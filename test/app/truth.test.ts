// The player beside the demo model: every frame carries the simulator's true frame for the same events (what the
// page shows next to the generated one), a reset resets the desktop too, and a model of another size is refused.
import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { FRAME_HEADER_BYTES } from '../../app/protocol.js';
import { startPlayer } from '../../app/server.js';
import { PlayerSession } from '../../app/session.js';
import { ICONS, SCREEN } from '../../app/desktop/desktop.js';
import { trueFrames } from '../../app/desktop/sessions.js';
import { tinyConfig } from '../../models/neuralos/config.js';
import { NeuralOS } from '../../models/neuralos/neuralos.js';

let player: Awaited<ReturnType<typeof startPlayer>>;
beforeAll(async () => {
  // the demo's screen with seeded random weights: the true frames do not depend on the weights
  const model = await NeuralOS.load({ ...tinyConfig, screen: SCREEN });
  player = await startPlayer({
    model,
    host: '127.0.0.1',
    port: 0,
    steps: 1,
    maxClients: 2,
    info: { screen: SCREEN },
    simulator: true,
  });
}, 60_000);
afterAll(() => player.close());

test("frames carry the simulator's true frame; reset starts the desktop over", async () => {
  const ws = new WebSocket(`${player.url.replace('http', 'ws')}ws`);
  const frames: Uint8Array[] = [],
    texts: Record<string, unknown>[] = [];
  ws.on('message', (d, binary) => {
    if (binary) frames.push(new Uint8Array(d as Buffer));
    else texts.push(JSON.parse(String(d)));
  });
  await new Promise((r, j) => {
    ws.once('open', r);
    ws.once('error', j);
  });
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setTimeout(r, 20));
  };
  const b = ICONS[1]!,
    events = [
      { x: 30, y: 20 },
      { x: b.x + 2, y: b.y + 2, is_left_click: true },
      { x: 40, y: 30 },
    ];
  for (const [i, e] of events.entries()) {
    ws.send(JSON.stringify(e));
    await until(() => frames.length > i);
  }
  const n = SCREEN.width * SCREEN.height * 3,
    want = trueFrames(events);
  frames.forEach((f, i) => {
    expect(f.length).toBe(FRAME_HEADER_BYTES + 2 * n);
    expect(Buffer.from(f.subarray(FRAME_HEADER_BYTES + n)).equals(Buffer.from(want[i]!)), `true frame ${i}`).toBe(true);
  });
  ws.send(JSON.stringify({ type: 'reset' }));
  await until(() => texts.some((t) => t.type === 'reset_done'));
  ws.send(JSON.stringify(events[2]));
  await until(() => frames.length > 3);
  const fresh = Buffer.from(trueFrames([events[2]!])[0]!);
  expect(Buffer.from(frames[3]!.subarray(FRAME_HEADER_BYTES + n)).equals(fresh), 'after reset: no window').toBe(true);
  ws.close();
}, 60_000);

test('the simulator refuses a model of another screen size', async () => {
  const model = await NeuralOS.load(tinyConfig);
  const out = { json() {}, frame() {}, open: () => true };
  expect(() => new PlayerSession(model, out, 1, {}, undefined, true)).toThrow(
    'player: the desktop simulator draws 64×48, the model 64×64',
  );
});
