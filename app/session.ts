// One player connection, wherever the model runs (Node server or the page itself): it validates messages, keeps
// clicks and keys in order in a bounded queue while any newer event replaces a waiting mouse move, and sends frames and
// JSON replies through its outlet. Frames are made when the scheduler gives it a turn; a reset is applied between
// frames (a frame in flight is discarded, never written back), and a frame or reply its reader has no room for is
// dropped and counted (a client that sends but never reads would otherwise grow the server's buffers without bound).
// With the demo model it also runs the synthetic desktop on the same events and sends its true frame along.
import type { NeuralOS, NeuralOSEvent, Session } from '../models/neuralos/neuralos.js';
import { Desktop, SCREEN } from './desktop/desktop.js';
import { type ClientMessage, encodeFrame, parseMessage } from './protocol.js';
import { FrameScheduler, type Turn } from './scheduler.js';

export interface Outlet {
  json(obj: Record<string, unknown>): void;
  frame(bytes: Uint8Array): void;
  open(): boolean;
  /** Whether the reader is behind (bytes it has not taken yet): the next frame or reply is dropped, not queued. */
  congested?(): boolean;
}

/** Events one player may have waiting; past this, clicks and keys are dropped with a message. */
export const MAX_PENDING = 32;

const isMove = (x: NeuralOSEvent): boolean =>
  !x.is_left_click && !x.is_right_click && !x.keys_down?.length && !x.keys_up?.length;

export class PlayerSession implements Turn {
  readonly session: Session;
  /** The simulator beside the model (the demo model), stepped with every event the model gets. */
  readonly desktop: Desktop | undefined;
  #pending: NeuralOSEvent[] = [];
  #busy = false;
  #closed = false;
  #resetAsked = false;
  #frames = 0;
  /** Frames made but not sent because the reader was behind. */
  dropped = 0;
  /** JSON replies (settings, heartbeats, errors) not sent because the reader was behind. */
  droppedReplies = 0;

  constructor(
    readonly model: NeuralOS,
    readonly out: Outlet,
    public steps: number,
    readonly info: Record<string, unknown>,
    readonly scheduler = new FrameScheduler(),
    simulate = false,
  ) {
    this.session = model.session();
    const { width, height } = model.cfg.screen;
    if (simulate && (width !== SCREEN.width || height !== SCREEN.height)) {
      const sim = `${SCREEN.width}×${SCREEN.height}`;
      throw new Error(`player: the desktop simulator draws ${sim}, the model ${width}×${height}`);
    }
    this.desktop = simulate ? new Desktop() : undefined;
    scheduler.add(this);
  }

  get waiting(): boolean {
    return !this.#closed && !this.#busy && this.#pending.length > 0;
  }

  /** A raw client message: handled, or answered with an error; the session goes on either way. */
  receive(raw: string): void {
    try {
      this.handle(parseMessage(raw, this.model.cfg.screen));
    } catch (e) {
      this.reply({ type: 'error', message: (e as Error).message });
    }
  }

  /** A JSON reply, unless the reader is behind: then it is dropped and counted, as a frame would be. */
  reply(obj: Record<string, unknown>): void {
    if (this.out.congested?.()) this.droppedReplies++;
    else this.out.json(obj);
  }

  handle(m: ClientMessage): void {
    if (this.#closed) return;
    switch (m.kind) {
      case 'input':
        this.#queue(m.event);
        break;
      case 'reset':
        this.#pending = [];
        if (this.#busy)
          this.#resetAsked = true; // applied when the frame in flight is done
        else this.#reset();
        break;
      case 'steps':
        this.steps = m.steps;
        this.reply({ type: 'settings', ...this.info, steps: this.steps });
        break;
      case 'settings':
        this.reply({ type: 'settings', ...this.info, steps: this.steps });
        break;
      case 'heartbeat':
        this.reply({ type: 'heartbeat' });
        break;
      default:
        m satisfies never;
    }
  }

  #queue(e: NeuralOSEvent): void {
    const last = this.#pending[this.#pending.length - 1];
    // a waiting move is superseded by any newer event, which carries its own position: as the reference server, a
    // backlog renders its clicks and keys and the latest position, not every step the pointer took on the way
    if (last && isMove(last)) this.#pending[this.#pending.length - 1] = e;
    else if (this.#pending.length >= MAX_PENDING) {
      this.reply({
        type: 'error',
        message: `input queue full (${MAX_PENDING} events waiting); this event was dropped`,
      });
      return;
    } else this.#pending.push(e);
    this.scheduler.wake();
  }

  #reset(): void {
    this.#resetAsked = false;
    this.session.reset();
    this.desktop?.reset();
    this.reply({ type: 'reset_done' });
  }

  /** The scheduler's turn: one frame from the oldest waiting event. */
  async next(): Promise<void> {
    const ev = this.#pending.shift();
    if (!ev || this.#closed) return;
    this.#busy = true;
    try {
      const truth = this.desktop?.step(ev);
      const f = await this.session.step(ev, { steps: this.steps });
      if (this.#closed || this.#resetAsked || !this.out.open()) return;
      if (this.out.congested?.()) this.dropped++;
      else this.out.frame(encodeFrame(f, this.#frames++, truth));
    } catch (e) {
      if (!this.#closed) this.reply({ type: 'error', message: `frame failed: ${(e as Error).message}` });
    } finally {
      this.#busy = false;
      if (this.#closed)
        this.session.reset(); // closed mid-frame: free its state now
      else if (this.#resetAsked) this.#reset();
    }
  }

  /** The connection ended: no more turns; the session is freed now, or when the frame in flight finishes. */
  close(): void {
    this.#closed = true;
    this.#pending = [];
    this.scheduler.remove(this);
    if (!this.#busy) this.session.reset();
  }
}
