// One model, many players: frames are made one at a time, taking the players that have input waiting in turn
// (round robin), and the event loop gets a turn between frames, so a burst from one player neither starves the
// others nor keeps the server from answering (CPU kernels and device copies run synchronously).

import { yieldToEventLoop } from '../runtime/turn.js';

/** A player as the scheduler sees it: whether it has input waiting, and making its next frame. */
export interface Turn {
  readonly waiting: boolean;
  next(): Promise<void>;
}

export class FrameScheduler {
  readonly #players: Turn[] = [];
  #running = false;
  #at = 0;

  add(p: Turn): void {
    this.#players.push(p);
  }
  /** A player that left: it gets no further turn (a frame it has in flight finishes and is discarded by it). */
  remove(p: Turn): void {
    const i = this.#players.indexOf(p);
    if (i < 0) return;
    this.#players.splice(i, 1);
    if (i < this.#at) this.#at--;
  }
  get size(): number {
    return this.#players.length;
  }

  /** Input arrived somewhere: make frames until no player has input waiting. */
  wake(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for (;;) {
        const n = this.#players.length;
        let turn: Turn | undefined;
        for (let k = 0; k < n && !turn; k++) {
          const p = this.#players[(this.#at + k) % n]!;
          if (p.waiting) {
            turn = p;
            this.#at = (this.#at + k + 1) % n;
          }
        }
        if (!turn) return;
        await turn.next();
        await yieldToEventLoop();
      }
    } finally {
      this.#running = false;
    }
  }
}
