// How close a generated frame is to the desktop it should show: PSNR against the true frame, where the cursor is
// (the position whose arrow, drawn over the true background, best explains the frame), and which window is open
// (the candidate state whose rendering is nearest). All on H × W × 3 RGB bytes.
import type { NeuralOSEvent } from '../../models/neuralos/neuralos.js';
import { APPS, type DesktopState, SCREEN, applyEvent, cursorSprite, initialState, render } from './desktop.js';

/** Peak signal-to-noise ratio in dB of two 8-bit images (Infinity when equal). */
export function psnr(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new Error(`psnr: images of ${a.length} and ${b.length} bytes`);
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  return se === 0 ? Infinity : 10 * Math.log10((255 * 255 * a.length) / se);
}

/** The cursor tip that best explains `frame` over the background of state s (no cursor drawn). */
export function findCursor(frame: Uint8Array, s: DesktopState): { x: number; y: number } {
  const bg = render(s),
    W = SCREEN.width,
    H = SCREEN.height;
  let best = { x: 0, y: 0 },
    bestScore = Infinity;
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      // the change in squared error when the arrow replaces the background under it
      let score = 0;
      for (const p of cursorSprite) {
        const px = x + p.dx,
          py = y + p.dy;
        if (px >= W || py >= H) continue;
        const i = 3 * (py * W + px);
        for (let c = 0; c < 3; c++) score += (frame[i + c]! - p.c[c]!) ** 2 - (frame[i + c]! - bg[i + c]!) ** 2;
      }
      if (score < bestScore) {
        bestScore = score;
        best = { x, y };
      }
    }
  return best;
}

/** Which window `frame` shows (-1: none), with the cursor and notes text taken as known. */
export function findOpenWindow(frame: Uint8Array, truth: DesktopState, cursor: { x: number; y: number }): number {
  let best = -1,
    bestErr = Infinity;
  for (let open = -1; open < APPS.length; open++) {
    const img = render({ open, text: open === truth.open ? truth.text : '' }, cursor);
    let err = 0;
    for (let i = 0; i < img.length; i++) err += (img[i]! - frame[i]!) ** 2;
    if (err < bestErr) {
      bestErr = err;
      best = open;
    }
  }
  return best;
}

export interface FrameScore {
  readonly psnr: number;
  readonly cursorError: number;
  readonly windowRight: boolean;
  readonly click: boolean;
}

/** Scores generated frames of a session against the simulator's. */
export function scoreSession(events: readonly NeuralOSEvent[], frames: readonly Uint8Array[]): FrameScore[] {
  let s = initialState;
  return events.map((e, i) => {
    s = applyEvent(s, e);
    const truth = render(s, { x: e.x, y: e.y }),
      f = frames[i]!,
      c = findCursor(f, s);
    return {
      psnr: psnr(f, truth),
      cursorError: Math.hypot(c.x - e.x, c.y - e.y),
      windowRight: findOpenWindow(f, s, e) === s.open,
      click: !!e.is_left_click,
    };
  });
}

export interface Summary {
  readonly frames: number;
  readonly psnrMean: number;
  readonly cursorMedian: number;
  readonly cursorWithin1: number;
  readonly windowRight: number;
  readonly windowRightOnClicks: number;
  readonly clicks: number;
}

/** Median cursor error, the share within 1 px, window state right overall and on click frames, mean PSNR (each
 * frame's capped at 60 dB: a perfect frame is infinite). */
export function summarize(scores: readonly FrameScore[]): Summary {
  const n = scores.length,
    errs = scores.map((s) => s.cursorError).sort((a, b) => a - b);
  const clicks = scores.filter((s) => s.click);
  return {
    frames: n,
    psnrMean: scores.reduce((a, s) => a + Math.min(60, s.psnr), 0) / n,
    cursorMedian: errs[Math.floor((n - 1) / 2)]!,
    cursorWithin1: errs.filter((e) => e <= 1).length / n,
    windowRight: scores.filter((s) => s.windowRight).length / n,
    windowRightOnClicks: clicks.length ? clicks.filter((s) => s.windowRight).length / clicks.length : 1,
    clicks: clicks.length,
  };
}
