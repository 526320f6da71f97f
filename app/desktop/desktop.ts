// A synthetic desktop, the world the demo NeuralOS was trained on: a wallpaper, three icons, a taskbar, one window
// at a time that a click on an icon opens and a click on its × closes, text typed into the notes window, and an
// arrow cursor at the mouse. Deterministic: the same events give the same frames, byte for byte, everywhere (the
// training data, the player's "true frame" view and the end-to-end checks all render with this file).
import { keyIndex } from '../../models/neuralos/keys.js';
import type { NeuralOSEvent } from '../../models/neuralos/neuralos.js';

export const SCREEN = { width: 64, height: 48 } as const;

type Rgb = readonly [number, number, number];
interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}
interface App {
  readonly name: string;
  readonly title: Rgb;
  readonly body: Rgb;
}

/** The apps, in icon order (top to bottom). */
export const APPS: readonly App[] = [
  { name: 'files', title: [232, 184, 56], body: [236, 236, 236] },
  { name: 'terminal', title: [70, 70, 84], body: [20, 22, 26] },
  { name: 'notes', title: [80, 140, 220], body: [250, 250, 244] },
];
const NOTES = 2;
/** Characters the notes window holds (two lines of ten). */
export const MAX_TEXT = 20;

export const ICONS: readonly Box[] = APPS.map((_, i) => ({ x: 3, y: 3 + 12 * i, w: 8, h: 8 }));
export const WINDOW: Box = { x: 17, y: 4, w: 44, h: 34 };
/** The × at the right of the window's title bar. */
export const CLOSE: Box = { x: 54, y: 5, w: 6, h: 4 };
const TASKBAR: Box = { x: 0, y: 42, w: 64, h: 6 };

/** What the screen shows besides the cursor: which window is open (-1: none) and the notes text. */
export interface DesktopState {
  readonly open: number;
  readonly text: string;
}
export const initialState: DesktopState = { open: -1, text: '' };

const inside = (b: Box, x: number, y: number, margin = 0): boolean =>
  x >= b.x - margin && x < b.x + b.w + margin && y >= b.y - margin && y < b.y + b.h + margin;

/** The icon under (x, y), counting the label under it and a pixel around, or -1. */
export function iconAt(x: number, y: number): number {
  return ICONS.findIndex((b) => inside({ ...b, h: b.h + 2 }, x, y, 1));
}
export const onClose = (x: number, y: number): boolean => inside(CLOSE, x, y, 1);

/** The state after one event: a left click opens the icon's app or closes the window; keys type into notes. */
export function applyEvent(s: DesktopState, ev: NeuralOSEvent): DesktopState {
  let { open, text } = s;
  if (ev.is_left_click) {
    const icon = iconAt(ev.x, ev.y);
    if (icon >= 0 && icon !== open) {
      open = icon;
      text = '';
    } else if (open >= 0 && onClose(ev.x, ev.y)) {
      open = -1;
      text = '';
    }
  }
  if (open === NOTES) {
    for (const key of ev.keys_down ?? []) {
      const k = key.toLowerCase();
      if (k === 'backspace') text = text.slice(0, -1);
      else if ((k === ' ' || k === 'space' || /^[a-z]$/.test(k)) && text.length < MAX_TEXT) {
        text += k === 'space' ? ' ' : k;
      }
    }
  }
  return open === s.open && text === s.text ? s : { open, text };
}

/** Keys the simulator reacts to, all in the model's vocabulary. */
export const TYPED_KEYS: readonly string[] = [...'abcdefghijklmnopqrstuvwxyz', ' ', 'Backspace'];
for (const k of TYPED_KEYS) {
  if (keyIndex(k) === undefined) throw new Error(`desktop: key ${k} is not in the vocabulary`);
}

// 3 × 5 glyphs, rows top to bottom separated by '/', '#' set
const GLYPHS: Readonly<Record<string, string>> = {
  a: '.#./#.#/###/#.#/#.#',
  b: '##./#.#/##./#.#/##.',
  c: '.##/#../#../#../.##',
  d: '##./#.#/#.#/#.#/##.',
  e: '###/#../##./#../###',
  f: '###/#../##./#../#..',
  g: '.##/#../#.#/#.#/.##',
  h: '#.#/#.#/###/#.#/#.#',
  i: '###/.#./.#./.#./###',
  j: '..#/..#/..#/#.#/.#.',
  k: '#.#/#.#/##./#.#/#.#',
  l: '#../#../#../#../###',
  m: '#.#/###/###/#.#/#.#',
  n: '##./#.#/#.#/#.#/#.#',
  o: '.#./#.#/#.#/#.#/.#.',
  p: '##./#.#/##./#../#..',
  q: '.#./#.#/#.#/##./.##',
  r: '##./#.#/##./#.#/#.#',
  s: '.##/#../.#./..#/##.',
  t: '###/.#./.#./.#./.#.',
  u: '#.#/#.#/#.#/#.#/###',
  v: '#.#/#.#/#.#/#.#/.#.',
  w: '#.#/#.#/###/###/#.#',
  x: '#.#/#.#/.#./#.#/#.#',
  y: '#.#/#.#/.#./.#./.#.',
  z: '###/..#/.#./#../###',
};

// the arrow: X outline, W fill; tip at (0, 0)
const ARROW = ['X', 'XX', 'XWX', 'XWWX', 'XWWWX', 'XWWWWX', 'XWWXXX', 'XXWX', 'X.XWX', '..XX'];

class Canvas {
  readonly rgb = new Uint8Array(SCREEN.width * SCREEN.height * 3);
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= SCREEN.width || y >= SCREEN.height) return;
    const i = 3 * (y * SCREEN.width + x);
    this.rgb[i] = c[0];
    this.rgb[i + 1] = c[1];
    this.rgb[i + 2] = c[2];
  }
  fill(b: Box, c: Rgb): void {
    for (let y = b.y; y < b.y + b.h; y++) for (let x = b.x; x < b.x + b.w; x++) this.set(x, y, c);
  }
  glyph(ch: string, x: number, y: number, c: Rgb): void {
    GLYPHS[ch]?.split('/').forEach((row, dy) =>
      [...row].forEach((p, dx) => {
        if (p === '#') this.set(x + dx, y + dy, c);
      }),
    );
  }
}

function drawIcon(cv: Canvas, app: number, b: Box): void {
  const { x, y } = b;
  if (app === 0) {
    // a folder: tab, body, a darker fold
    cv.fill({ x, y: y + 1, w: 4, h: 2 }, [200, 150, 40]);
    cv.fill({ x, y: y + 2, w: 8, h: 6 }, APPS[0]!.title);
    cv.fill({ x, y: y + 4, w: 8, h: 1 }, [200, 150, 40]);
  } else if (app === 1) {
    // a screen with a prompt on a stand
    cv.fill({ x, y, w: 8, h: 6 }, [150, 150, 160]);
    cv.fill({ x: x + 1, y: y + 1, w: 6, h: 4 }, [20, 22, 26]);
    cv.fill({ x: x + 2, y: y + 2, w: 2, h: 1 }, [90, 220, 110]);
    cv.fill({ x: x + 3, y: y + 6, w: 2, h: 1 }, [150, 150, 160]);
    cv.fill({ x: x + 2, y: y + 7, w: 4, h: 1 }, [150, 150, 160]);
  } else {
    // a page with lines
    cv.fill({ x: x + 1, y, w: 6, h: 8 }, [245, 245, 245]);
    for (const r of [2, 4, 6]) cv.fill({ x: x + 2, y: y + r, w: 4, h: 1 }, [80, 140, 220]);
  }
  cv.fill({ x: x + 1, y: y + 9, w: 6, h: 1 }, [225, 225, 225]); // the label
}

function drawWindow(cv: Canvas, s: DesktopState): void {
  const app = APPS[s.open]!,
    W = WINDOW;
  cv.fill({ x: W.x - 1, y: W.y - 1, w: W.w + 2, h: W.h + 2 }, [12, 12, 16]); // border
  cv.fill(W, app.body);
  cv.fill({ x: W.x, y: W.y, w: W.w, h: 6 }, app.title);
  cv.fill({ x: W.x + 2, y: W.y + 2, w: 10, h: 2 }, [255, 255, 255]); // the title text, as a bar
  cv.fill(CLOSE, [210, 60, 60]);
  for (let i = 0; i < 4; i++) {
    cv.set(CLOSE.x + 1 + i, CLOSE.y + i, [255, 255, 255]);
    cv.set(CLOSE.x + 4 - i, CLOSE.y + i, [255, 255, 255]);
  }
  const top = W.y + 8;
  if (s.open === 0) {
    for (let j = 0; j < 2; j++)
      for (let i = 0; i < 3; i++) {
        const x = W.x + 4 + 14 * i,
          y = top + 2 + 12 * j;
        cv.fill({ x, y, w: 8, h: 6 }, APPS[0]!.title);
        cv.fill({ x: x + 1, y: y + 8, w: 6, h: 1 }, [120, 120, 120]);
      }
  } else if (s.open === 1) {
    for (const [r, len] of [
      [0, 18],
      [6, 30],
      [12, 12],
      [18, 24],
    ] as const) {
      cv.fill({ x: W.x + 3, y: top + 1 + r, w: 2, h: 3 }, [90, 220, 110]);
      cv.fill({ x: W.x + 7, y: top + 2 + r, w: len, h: 1 }, [190, 190, 190]);
    }
  } else {
    const x0 = W.x + 2,
      y0 = top + 2;
    [...s.text].forEach((ch, i) => cv.glyph(ch, x0 + 4 * (i % 10), y0 + 7 * Math.floor(i / 10), [30, 30, 30]));
    const n = s.text.length,
      line = Math.min(1, Math.floor(n / 10)),
      col = n === MAX_TEXT ? 10 : n % 10;
    cv.fill({ x: x0 + 4 * col, y: y0 + 7 * line, w: 1, h: 5 }, [80, 140, 220]); // the caret
  }
}

/** The desktop in state s with the cursor tip at (x, y) (none if x is undefined): H × W × 3 RGB bytes. */
export function render(s: DesktopState, cursor?: { x: number; y: number }): Uint8Array {
  const cv = new Canvas();
  for (let y = 0; y < SCREEN.height; y++) {
    const c: Rgb = [Math.round(40 - (20 * y) / 47), Math.round(96 - (46 * y) / 47), Math.round(150 - (60 * y) / 47)];
    cv.fill({ x: 0, y, w: SCREEN.width, h: 1 }, c);
  }
  ICONS.forEach((b, i) => drawIcon(cv, i, b));
  cv.fill(TASKBAR, [32, 32, 38]);
  cv.fill({ x: 1, y: 43, w: 7, h: 4 }, [60, 170, 90]); // start
  cv.fill({ x: 55, y: 44, w: 7, h: 2 }, [200, 200, 200]); // clock
  if (s.open >= 0) {
    cv.fill({ x: 11, y: 43, w: 10, h: 4 }, APPS[s.open]!.title); // the open window's button
    drawWindow(cv, s);
  }
  if (cursor) drawCursor(cv, cursor.x, cursor.y);
  return cv.rgb;
}

/** The cursor's pixels relative to its tip, with their colours: what is drawn, and what the cursor metric seeks. */
export const cursorSprite: readonly { dx: number; dy: number; c: Rgb }[] = ARROW.flatMap((row, dy) =>
  [...row].flatMap((p, dx) => (p === '.' ? [] : [{ dx, dy, c: (p === 'X' ? [0, 0, 0] : [255, 255, 255]) as Rgb }])),
);

function drawCursor(cv: Canvas, x: number, y: number): void {
  for (const p of cursorSprite) cv.set(x + p.dx, y + p.dy, p.c);
}

/** One user's run on the desktop: events in, true frames out. */
export class Desktop {
  state: DesktopState = initialState;
  step(ev: NeuralOSEvent): Uint8Array {
    this.state = applyEvent(this.state, ev);
    return render(this.state, { x: ev.x, y: ev.y });
  }
  reset(): void {
    this.state = initialState;
  }
}
