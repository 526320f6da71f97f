// The player's server: serves the page, runs one model for everyone and a session per WebSocket
// connection; frames go out as binary messages as fast as the model makes them.
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';
import type { NeuralOS } from '../models/neuralos/neuralos.js';
import { PlayerSession } from './session.js';

export interface PlayerOptions {
  readonly model: NeuralOS;
  readonly host: string;
  readonly port: number;
  readonly steps: number;
  readonly maxClients: number;
  readonly info: Record<string, unknown>;
  /** A safetensors file the page may stream (browser mode). */
  readonly weightsFile?: string;
}

/** Serves a file with HEAD, ETag and single byte ranges (how the page streams weights per tensor). */
function serveRanges(req: IncomingMessage, res: ServerResponse, path: string): void {
  const { size, mtimeMs } = statSync(path), etag = `"${size}-${Math.floor(mtimeMs)}"`;
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const headers = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream' };
  if (req.method === 'HEAD') { res.writeHead(200, { ...headers, 'content-length': size }).end(); return; }
  if (!m) { res.writeHead(200, { ...headers, 'content-length': size }); createReadStream(path).pipe(res); return; }
  const start = Number(m[1]), end = m[2] ? Math.min(Number(m[2]), size - 1) : size - 1;
  if (start > end || start >= size) { res.writeHead(416, { 'content-range': `bytes */${size}` }).end(); return; }
  res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}`, 'content-length': end - start + 1 });
  createReadStream(path, { start, end }).pipe(res);
}

import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
// the page sits beside this file in the source tree, and two levels up from dist/app
const web = [new URL('./web/', import.meta.url), new URL('../../app/web/', import.meta.url)].find((u) => existsSync(new URL('index.html', u)))!;
// the browser-mode bundle (vite build) sits in dist/web
const bundle = [new URL('../dist/web/', import.meta.url), new URL('../web/', import.meta.url)].find((u) => existsSync(new URL('browser.js', u)));
const files: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/player.js': 'player.js' };
const types: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8' };

export async function startPlayer(opts: PlayerOptions): Promise<{ url: string; server: Server; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === '/info') {
      const info = { ...opts.info, config: opts.model.cfg, steps: opts.steps, weights: opts.weightsFile ? '/weights' : undefined };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info));
      return;
    }
    if (path === '/weights' && opts.weightsFile) { serveRanges(req, res, opts.weightsFile); return; }
    if (path.startsWith('/web/') && bundle && /^\/web\/[\w.-]+\.js$/.test(path)) {
      res.writeHead(200, { 'content-type': types.js! }).end(readFileSync(new URL(path.slice(5), bundle)));
      return;
    }
    const file = files[path];
    if (!file) { res.writeHead(404).end('not found'); return; }
    try {
      res.writeHead(200, { 'content-type': types[file.split('.').pop()!]! }).end(readFileSync(new URL(file, web)));
    } catch (e) {
      res.writeHead(500).end(`cannot read ${file}: ${(e as Error).message}`);
    }
  });
  const wss = new WebSocketServer({ server, path: '/ws', maxPayload: 64 * 1024 });
  wss.on('error', () => {});   // it re-emits the server's errors, which the listen promise below reports
  const clients = new Set<PlayerSession>();
  wss.on('connection', (ws) => {
    if (clients.size >= opts.maxClients) {
      ws.send(JSON.stringify({ type: 'error', message: `too many connections (max ${opts.maxClients}); try again later` }));
      ws.close(1013, 'too many connections');
      return;
    }
    const c = new PlayerSession(opts.model, {
      json: (obj) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj)); },
      frame: (bytes) => ws.send(bytes),
      open: () => ws.readyState === WebSocket.OPEN,
    }, opts.steps, opts.info);
    clients.add(c);
    ws.on('message', (data, isBinary) => {
      if (isBinary) c.out.json({ type: 'error', message: 'expected a text (JSON) message' });
      else c.receive(data.toString());
    });
    ws.on('close', () => { clients.delete(c); c.close(); });
    ws.on('error', () => ws.terminate());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`player: port ${opts.port} on ${opts.host} is in use; pass --port N (or --port 0 for any free port)`) : e));
    server.listen(opts.port, opts.host, resolve);
  });
  const addr = server.address() as { port: number };
  return {
    url: `http://${opts.host === '0.0.0.0' ? '127.0.0.1' : opts.host}:${addr.port}/`,
    server,
    close: () => new Promise<void>((resolve) => { for (const c of wss.clients) c.terminate(); wss.close(); server.close(() => resolve()); }),
  };
}
