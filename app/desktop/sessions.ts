// User sessions on the synthetic desktop, in the reference demo's event format (one event per frame): seeded random
// ones for training and evaluation — mouse paths that ease towards a goal (an icon, the ×, anywhere), pauses,
// clicks, typing into notes — and the scripted one the end-to-end checks run.
import type { NeuralOSEvent } from '../../models/neuralos/neuralos.js';
import { CLOSE, Desktop, ICONS, SCREEN, TYPED_KEYS, applyEvent, initialState } from './desktop.js';

/** mulberry32: a seeded stream in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const clampX = (x: number): number => Math.max(0, Math.min(SCREEN.width - 1, Math.round(x)));
const clampY = (y: number): number => Math.max(0, Math.min(SCREEN.height - 1, Math.round(y)));
const event = (x: number, y: number, extra: Partial<NeuralOSEvent> = {}): NeuralOSEvent => ({
  x,
  y,
  is_left_click: false,
  is_right_click: false,
  keys_down: [],
  keys_up: [],
  wheel_delta_x: 0,
  wheel_delta_y: 0,
  ...extra,
});

/** `frames` events of one seeded user: the same seed, the same session. */
export function randomSession(seed: number, frames: number): NeuralOSEvent[] {
  const r = seeded(seed),
    pick = (n: number) => Math.floor(r() * n);
  const out: NeuralOSEvent[] = [];
  let x = pick(SCREEN.width),
    y = pick(SCREEN.height - 6),
    state = initialState;
  const push = (e: NeuralOSEvent) => {
    if (out.length < frames) {
      out.push(e);
      state = applyEvent(state, e);
    }
  };
  const moveTo = (tx: number, ty: number) => {
    // eased path with a sideways bow and a pixel of jitter; 3-9 px per frame at full speed
    const dist = Math.hypot(tx - x, ty - y),
      n = Math.max(1, Math.ceil(dist / (3 + 6 * r())));
    const bow = (r() - 0.5) * 0.4 * dist,
      nx = dist ? -(ty - y) / dist : 0,
      ny = dist ? (tx - x) / dist : 0;
    const x0 = x,
      y0 = y;
    for (let i = 1; i <= n; i++) {
      const t = i / n,
        e = t * t * (3 - 2 * t),
        b = Math.sin(Math.PI * t) * bow,
        j = i < n ? 1 : 0;
      x = clampX(x0 + (tx - x0) * e + nx * b + j * (pick(3) - 1));
      y = clampY(y0 + (ty - y0) * e + ny * b + j * (pick(3) - 1));
      push(event(x, y));
    }
    x = clampX(tx);
    y = clampY(ty);
  };
  const click = () => push(event(x, y, r() < 0.1 ? { is_right_click: true } : { is_left_click: true }));
  while (out.length < frames) {
    const u = r();
    if (state.open === 2 && u < 0.35) {
      // type a few keys, a key down then up
      for (let k = 1 + pick(5); k > 0; k--) {
        const key = r() < 0.1 ? 'Backspace' : TYPED_KEYS[pick(TYPED_KEYS.length - 1)]!;
        push(event(x, y, { keys_down: [key] }));
        push(event(x, y, { keys_up: [key] }));
      }
      continue;
    }
    const open = state.open >= 0;
    if (u < (open ? 0.35 : 0.6)) {
      // an icon, usually clicked
      const b = ICONS[pick(ICONS.length)]!;
      moveTo(b.x + pick(b.w), b.y + pick(b.h));
      if (r() < 0.85) click();
    } else if (open && u < 0.75) {
      // the window's ×
      moveTo(CLOSE.x + pick(CLOSE.w), CLOSE.y + pick(CLOSE.h));
      if (r() < 0.85) click();
    } else {
      // anywhere; a stray click now and then
      moveTo(pick(SCREEN.width), pick(SCREEN.height));
      if (r() < 0.2) click();
    }
    for (let k = pick(3); k > 0; k--) push(event(x, y)); // a pause
  }
  return out;
}

/** The end-to-end script (27 frames, inside the training sessions' 32): open files from its icon, close it, open
 * notes, type "hi", close it — moving between each. */
export function scriptedSession(): NeuralOSEvent[] {
  const out: NeuralOSEvent[] = [];
  let x = 40,
    y = 30;
  const glide = (tx: number, ty: number, n: number) => {
    const x0 = x,
      y0 = y;
    for (let i = 1; i <= n; i++) {
      x = Math.round(x0 + ((tx - x0) * i) / n);
      y = Math.round(y0 + ((ty - y0) * i) / n);
      out.push(event(x, y));
    }
  };
  const click = () => out.push(event(x, y, { is_left_click: true }));
  out.push(event(x, y));
  for (const [app, typed] of [
    [0, ''],
    [2, 'hi'],
  ] as const) {
    const b = ICONS[app]!;
    glide(b.x + 3, b.y + 3, 3);
    click();
    glide(36, 26, 2);
    for (const k of typed) {
      out.push(event(x, y, { keys_down: [k] }));
      out.push(event(x, y, { keys_up: [k] }));
    }
    glide(CLOSE.x + 2, CLOSE.y + 1, 3);
    click();
    glide(30, 20, 1);
  }
  return out;
}

/** The simulator's frames for a session (what the demo model should draw). */
export function trueFrames(events: readonly NeuralOSEvent[]): Uint8Array[] {
  const d = new Desktop();
  return events.map((e) => d.step(e));
}
