// The synthetic desktop the demo model learned: its rules (icons open windows, × closes, keys type into notes),
// determinism, the random users' sessions, and the metrics the end-to-end checks use, checked on true frames.
import { describe, expect, test } from 'vitest';
import {
  APPS,
  CLOSE,
  Desktop,
  ICONS,
  MAX_TEXT,
  SCREEN,
  applyEvent,
  initialState,
  render,
} from '../../app/desktop/desktop.js';
import { findCursor, findOpenWindow, psnr, scoreSession, summarize } from '../../app/desktop/metrics.js';
import { randomSession, scriptedSession, trueFrames } from '../../app/desktop/sessions.js';
import { keyIndex } from '../../models/neuralos/keys.js';

const click = (x: number, y: number) => ({ x, y, is_left_click: true });
const pixel = (img: Uint8Array, x: number, y: number) => {
  const i = 3 * (y * SCREEN.width + x);
  return Array.from(img.subarray(i, i + 3));
};

describe('the desktop', () => {
  test('a click on an icon opens its window, on × closes it, anywhere else does nothing', () => {
    let s = initialState;
    s = applyEvent(s, click(30, 30));
    expect(s.open).toBe(-1);
    for (const [i, b] of ICONS.entries()) {
      s = applyEvent(s, click(b.x + 2, b.y + 2));
      expect(s.open).toBe(i);
    }
    expect(applyEvent(s, { x: CLOSE.x + 2, y: CLOSE.y + 1, is_right_click: true }).open).toBe(2); // a right click: no
    expect(applyEvent(s, { x: CLOSE.x + 2, y: CLOSE.y + 1 }).open).toBe(2); // a move: no
    s = applyEvent(s, click(CLOSE.x + 2, CLOSE.y + 1));
    expect(s.open).toBe(-1);
    expect(applyEvent(s, click(CLOSE.x + 2, CLOSE.y + 1))).toBe(s); // no window: no ×
  });

  test('keys type into notes only; backspace deletes; the text is bounded and cleared on close', () => {
    let s = applyEvent(initialState, { x: 0, y: 0, keys_down: ['a'] });
    expect(s.text).toBe('');
    s = applyEvent(s, click(ICONS[2]!.x, ICONS[2]!.y));
    for (const k of ['H', 'i', ' ', 'x', 'Backspace', 'Shift', '!']) {
      s = applyEvent(s, { x: 40, y: 20, keys_down: [k] });
    }
    expect(s.text).toBe('hi ');
    for (let i = 0; i < 30; i++) s = applyEvent(s, { x: 40, y: 20, keys_down: ['z'] });
    expect(s.text).toHaveLength(MAX_TEXT);
    expect(applyEvent(s, click(CLOSE.x, CLOSE.y)).text).toBe('');
  });

  test('frames: the cursor tip is black at the mouse, windows in their colours, the same events the same bytes', () => {
    const f = render({ open: 0, text: '' }, { x: 30, y: 20 });
    expect(f).toHaveLength(SCREEN.width * SCREEN.height * 3);
    expect(pixel(f, 30, 20)).toEqual([0, 0, 0]);
    expect(pixel(f, 31, 22)).toEqual([255, 255, 255]);
    expect(pixel(f, 20, 5)).toEqual([...APPS[0]!.title]);
    expect(pixel(render(initialState), 20, 5)).not.toEqual([...APPS[0]!.title]);
    const events = randomSession(5, 40);
    expect(trueFrames(events)).toEqual(trueFrames(events));
    const d = new Desktop();
    d.step(click(ICONS[1]!.x, ICONS[1]!.y));
    d.reset();
    expect(d.state).toEqual(initialState);
  });

  test('random sessions: seeded, on screen, with clicks that open and close windows and typing in notes', () => {
    expect(randomSession(3, 32)).toEqual(randomSession(3, 32));
    expect(randomSession(3, 32)).not.toEqual(randomSession(4, 32));
    const all = Array.from({ length: 100 }, (_, i) => randomSession(100 + i, 32));
    let opened = 0,
      closed = 0,
      typed = 0,
      moved = 0;
    for (const events of all) {
      expect(events).toHaveLength(32);
      let s = initialState;
      events.forEach((e, i) => {
        expect(Number.isInteger(e.x) && Number.isInteger(e.y)).toBe(true);
        expect(e.x >= 0 && e.x < SCREEN.width && e.y >= 0 && e.y < SCREEN.height).toBe(true);
        for (const k of e.keys_down ?? []) expect(keyIndex(k)).toBeDefined();
        const next = applyEvent(s, e);
        if (next.open >= 0 && next.open !== s.open) opened++;
        if (next.open < 0 && s.open >= 0) closed++;
        if (next.text.length > s.text.length) typed++;
        if (i && (e.x !== events[i - 1]!.x || e.y !== events[i - 1]!.y)) moved++;
        s = next;
      });
    }
    expect(opened).toBeGreaterThan(100);
    expect(closed).toBeGreaterThan(30);
    expect(typed).toBeGreaterThan(20);
    expect(moved / (100 * 31)).toBeGreaterThan(0.5);
  });
});

describe('the metrics', () => {
  test('on true frames: cursor found exactly (edges too), the right window, PSNR infinite', () => {
    const events = [...scriptedSession(), ...randomSession(9, 60), { x: 63, y: 47 }, { x: 0, y: 47 }, { x: 63, y: 0 }];
    const s = summarize(scoreSession(events, trueFrames(events)));
    expect(s).toMatchObject({
      frames: events.length,
      cursorMedian: 0,
      cursorWithin1: 1,
      windowRight: 1,
      windowRightOnClicks: 1,
      psnrMean: 60,
    });
    expect(s.clicks).toBeGreaterThan(3);
  });

  test('a frame with the wrong window, a moved cursor or noise scores as such', () => {
    const truth = { open: 1, text: '' },
      at = { x: 40, y: 25 };
    expect(findOpenWindow(render({ open: 0, text: '' }, at), truth, at)).toBe(0);
    expect(findOpenWindow(render(initialState, at), truth, at)).toBe(-1);
    expect(findCursor(render(truth, { x: 12, y: 33 }), truth)).toEqual({ x: 12, y: 33 });
    const a = render(truth, at);
    const b = Uint8Array.from(a, (v, i) => Math.max(0, Math.min(255, v + ((i * 7919) % 11) - 5)));
    const p = psnr(a, b);
    expect(p).toBeGreaterThan(30);
    expect(p).toBeLessThan(45);
    // reference: mean squared error of the ±5 pattern in float64
    let se = 0;
    for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
    expect(p).toBeCloseTo(10 * Math.log10(255 ** 2 / (se / a.length)), 10);
    expect(() => psnr(a, b.subarray(3))).toThrow(/psnr: images of/);
  });
});
