// The player's server: serves the page, runs one model for everyone and a session per WebSocket
// connection; frames go out as binary messages as fast as the model makes them.
import { type Server, createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { NeuralOS, NeuralOSEvent, Session } from '../models/neuralos/neuralos.js';
import { type ClientMessage, encodeFrame, parseMessage } from './protocol.js';

export interface PlayerOptions {
  readonly model: NeuralOS;
  readonly host: string;
  readonly port: number;
  readonly steps: number;
  readonly maxClients: number;
  readonly info: Record<string, unknown>;
}

import { existsSync, readFileSync } from 'node:fs';
// the page sits beside this file in the source tree, and two levels up from dist/app
const web = [new URL('./web/', import.meta.url), new URL('../../app/web/', import.meta.url)].find((u) => existsSync(new URL('index.html', u)))!;
const files: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/player.js': 'player.js' };
const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8' };

/** One connection: its session and a queue that keeps clicks and keys in order but only the latest move. */
class Client {
  readonly session: Session;
  steps: number;
  #pending: NeuralOSEvent[] = [];
  #busy = false;
  #frames = 0;

  constructor(readonly ws: WebSocket, readonly opts: PlayerOptions) {
    this.session = opts.model.session();
    this.steps = opts.steps;
  }

  send(obj: Record<string, unknown>): void { if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(obj)); }

  handle(m: ClientMessage): void {
    switch (m.kind) {
      case 'input': {
        const e = m.event;
        const interesting = e.is_left_click || e.is_right_click || (e.keys_down?.length ?? 0) > 0 || (e.keys_up?.length ?? 0) > 0;
        const last = this.#pending[this.#pending.length - 1];
        const lastIsMove = last && !last.is_left_click && !last.is_right_click && !last.keys_down?.length && !last.keys_up?.length;
        if (!interesting && lastIsMove) this.#pending[this.#pending.length - 1] = e;   // a newer move replaces a waiting one
        else this.#pending.push(e);
        void this.#drain();
        break;
      }
      case 'reset': this.#pending = []; this.session.reset(); this.send({ type: 'reset_done' }); break;
      case 'steps': this.steps = m.steps; this.send({ type: 'settings', steps: this.steps, ...this.opts.info }); break;
      case 'settings': this.send({ type: 'settings', steps: this.steps, ...this.opts.info }); break;
      case 'heartbeat': this.send({ type: 'heartbeat' }); break;
      default: m satisfies never;
    }
  }

  async #drain(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      while (this.#pending.length && this.ws.readyState === WebSocket.OPEN) {
        const ev = this.#pending.shift()!;
        try {
          const f = await this.session.step(ev, { steps: this.steps });
          if (this.ws.readyState === WebSocket.OPEN) this.ws.send(encodeFrame(f, this.#frames++));
        } catch (e) {
          this.send({ type: 'error', message: `frame failed: ${(e as Error).message}` });
        }
      }
    } finally {
      this.#busy = false;
      if (this.ws.readyState !== WebSocket.OPEN) this.session.reset();   // closed mid-frame: free its state
    }
  }

  close(): void { if (!this.#busy) this.session.reset(); }
}

export async function startPlayer(opts: PlayerOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/info') { res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(opts.info)); return; }
    const file = files[path];
    if (!file) { res.writeHead(404).end('not found'); return; }
    try {
      res.writeHead(200, { 'content-type': types[file.split('.').pop()!]! }).end(readFileSync(new URL(file, web)));
    } catch (e) {
      res.writeHead(500).end(`cannot read ${file}: ${(e as Error).message}`);
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024 });
  const clients = new Set<Client>();
  wss.on('connection', (ws) => {
    if (clients.size >= opts.maxClients) {
      ws.send(JSON.stringify({ type: 'error', message: `too many connections (max ${opts.maxClients}); try again later` }));
      ws.close(1013, 'too many connections');
      return;
    }
    const c = new Client(ws, opts);
    clients.add(c);
    ws.on('message', (data, isBinary) => {
      try {
        if (isBinary) throw new Error('expected a text (JSON) message');
        c.handle(parseMessage(data.toString(), opts.model.cfg.screen));
      } catch (e) {
        c.send({ type: 'error', message: (e as Error).message });
      }
    });
    ws.on('close', () => { clients.delete(c); c.close(); });
    ws.on('error', () => ws.terminate());
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(opts.port, opts.host, resolve); });
  const addr = server.address() as { port: number };
  return {
    url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${addr.port}/`,
    server,
    close: () => new Promise<void>((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(); server.close(() => resolve()); }),
  };
}
