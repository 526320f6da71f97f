// One player connection, wherever the model runs (Node server or the page itself): it validates
// messages, keeps clicks and keys in order while a newer mouse move replaces a waiting one, and sends
// frames and JSON replies through the outlet it was given.
import type { NeuralOS, NeuralOSEvent, Session } from '../models/neuralos/neuralos.js';
import { type ClientMessage, encodeFrame, parseMessage } from './protocol.js';

export interface Outlet {
  json(obj: Record<string, unknown>): void;
  frame(bytes: Uint8Array): void;
  open(): boolean;
}

export class PlayerSession {
  readonly session: Session;
  #pending: NeuralOSEvent[] = [];
  #busy = false;
  #frames = 0;

  constructor(readonly model: NeuralOS, readonly out: Outlet, public steps: number, readonly info: Record<string, unknown>) {
    this.session = model.session();
  }

  /** A raw client message: handled, or answered with an error; the session goes on either way. */
  receive(raw: string): void {
    try {
      this.handle(parseMessage(raw, this.model.cfg.screen));
    } catch (e) {
      this.out.json({ type: 'error', message: (e as Error).message });
    }
  }

  handle(m: ClientMessage): void {
    switch (m.kind) {
      case 'input': {
        const e = m.event, last = this.#pending[this.#pending.length - 1];
        const isMove = (x: NeuralOSEvent) => !x.is_left_click && !x.is_right_click && !x.keys_down?.length && !x.keys_up?.length;
        if (isMove(e) && last && isMove(last)) this.#pending[this.#pending.length - 1] = e;   // a newer move replaces a waiting one
        else this.#pending.push(e);
        void this.#drain();
        break;
      }
      case 'reset': this.#pending = []; this.session.reset(); this.out.json({ type: 'reset_done' }); break;
      case 'steps': this.steps = m.steps; this.out.json({ type: 'settings', ...this.info, steps: this.steps }); break;
      case 'settings': this.out.json({ type: 'settings', ...this.info, steps: this.steps }); break;
      case 'heartbeat': this.out.json({ type: 'heartbeat' }); break;
      default: m satisfies never;
    }
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#pending.length && this.out.open()) {
        const ev = this.#pending.shift()!;
        try {
          const f = await this.session.step(ev, { steps: this.steps });
          if (this.out.open()) this.out.frame(encodeFrame(f, this.#frames++));
        } catch (e) {
          this.out.json({ type: 'error', message: `frame failed: ${(e as Error).message}` });
        }
      }
    } finally {
      this.#busy = false;
      if (!this.out.open()) this.session.reset();   // closed mid-frame: free its state
    }
  }

  /** The connection ended: free the session now, or when the frame in flight finishes. */
  close(): void { if (!this.#busy) this.session.reset(); }
}
