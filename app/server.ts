// The player's server: serves the page, runs one model for everyone and a session per WebSocket connection; frames
// go out as binary messages, made one at a time across players in turn. Every request is checked by the guard
// (Host, Origin, token) and every failure is a response and a log line, never the end of the process.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer } from 'ws';
import type { NeuralOS } from '../models/neuralos/neuralos.js';
import { TOKEN_COOKIE, guard } from './guard.js';
import { FrameScheduler } from './scheduler.js';
import { PlayerSession } from './session.js';

export interface PlayerOptions {
  readonly model: NeuralOS;
  readonly host: string;
  readonly port: number;
  readonly steps: number;
  readonly maxClients: number;
  readonly info: Record<string, unknown>;
  /** Run the synthetic desktop beside the model and send its true frames (the demo model). */
  readonly simulator?: boolean;
  /** A safetensors file the page may stream (browser mode). */
  readonly weightsFile?: string;
  /** Origins besides the server's own whose pages may use it (--allow-origin). */
  readonly allowOrigins?: readonly string[];
  /** Require this token even on loopback (tests); beyond loopback a random one is made per run. */
  readonly token?: string;
  /** Where one-line reports of refused or failed requests go (default console.error). */
  readonly log?: (line: string) => void;
}

/** A reader this far behind (bytes buffered in its socket) gets no new frame or reply until it catches up. */
export const MAX_BUFFERED = 4 * 2 ** 20;

// the page sits beside this file in the source tree, and two levels up from dist/app
const web = [new URL('./web/', import.meta.url), new URL('../../app/web/', import.meta.url)].find((u) =>
  existsSync(new URL('index.html', u)),
)!;
// the browser-mode bundle (vite build) sits in dist/web
const bundle = [new URL('../dist/web/', import.meta.url), new URL('../web/', import.meta.url)].find((u) =>
  existsSync(new URL('browser.js', u)),
);
const pages: Record<string, string> = { '/': 'index.html', '/index.html': 'index.html', '/player.js': 'player.js' };
const types: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  json: 'application/json',
};
const security = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self' ws: wss:; img-src 'self' data:; " +
    "frame-ancestors 'none'",
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A file with ETag and If-None-Match (304), HEAD, and single byte ranges (how the page streams weights per tensor). */
function serveFile(req: IncomingMessage, res: ServerResponse, path: string | URL, type: string, ranges: boolean): void {
  let size: number, mtimeMs: number;
  try {
    ({ size, mtimeMs } = statSync(path));
  } catch {
    throw new HttpError(404, `${req.url}: not found`);
  }
  const etag = `"${size}-${Math.floor(mtimeMs)}"`,
    headers = { etag, 'content-type': type, ...(ranges ? { 'accept-ranges': 'bytes' } : {}) };
  if (req.headers['if-none-match'] === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  const m = ranges ? /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '') : null;
  const [start, end] = m ? [Number(m[1]), m[2] ? Math.min(Number(m[2]), size - 1) : size - 1] : [0, size - 1];
  if (m && (start > end || start >= size)) {
    res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
    return;
  }
  res.writeHead(m ? 206 : 200, {
    ...headers,
    'content-length': end - start + 1,
    ...(m ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}),
  });
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return;
  }
  const stream = createReadStream(path, { start, end });
  stream.on('error', () => res.destroy()); // the file went away mid-read: cut this response, nothing else
  stream.pipe(res);
}

export interface Player {
  readonly url: string;
  readonly server: Server;
  /** Frames made but dropped because their reader was behind, over all connections so far. */
  dropped(): number;
  /** JSON replies dropped because their reader was behind, over all connections so far. */
  droppedReplies(): number;
  close(): Promise<void>;
}

export async function startPlayer(opts: PlayerOptions): Promise<Player> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const access = guard({ host: opts.host, allowOrigins: opts.allowOrigins, token: opts.token });
  let port = opts.port;

  const route = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new HttpError(405, `${req.method} ${path}: only GET and HEAD`);
    if (path === '/info') {
      const info = {
        ...opts.info,
        config: opts.model.cfg,
        steps: opts.steps,
        weights: opts.weightsFile ? '/weights' : undefined,
        simulator: !!opts.simulator,
      };
      res
        .writeHead(200, { 'content-type': types.json!, 'cache-control': 'no-store' })
        .end(req.method === 'HEAD' ? undefined : JSON.stringify(info));
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (path === '/weights' && opts.weightsFile) {
      serveFile(req, res, opts.weightsFile, 'application/octet-stream', true);
      return;
    }
    if (bundle && /^\/web\/[\w.-]+\.js$/.test(path)) {
      serveFile(req, res, new URL(path.slice(5), bundle), types.js!, false);
      return;
    }
    const page = pages[path];
    if (!page) throw new HttpError(404, `${path}: not found`);
    if (access.tokenInQuery(req))
      res.setHeader('set-cookie', `${TOKEN_COOKIE}=${access.token}; HttpOnly; SameSite=Strict; Path=/`);
    serveFile(req, res, new URL(page, web), types[page.split('.').pop()!]!, false);
  };

  const server = createServer((req, res) => {
    for (const [k, v] of Object.entries(security)) res.setHeader(k, v);
    const origin = req.headers.origin;
    if (origin && opts.allowOrigins?.includes(origin)) res.setHeader('access-control-allow-origin', origin);
    try {
      const refused = access.refuse(req, port, false);
      if (refused) throw new HttpError(403, refused);
      route(req, res);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500,
        message = (e as Error).message;
      if (status !== 404) log(`player: ${req.method} ${req.url}: ${status} ${message}`);
      if (!res.headersSent)
        res.writeHead(status, {
          'content-type': 'text/plain; charset=utf-8',
          ...(status === 405 ? { allow: 'GET, HEAD' } : {}),
        });
      res.end(`${message}\n`);
    }
  });
  // a request Node cannot parse gets a status line before the socket closes, as Node's docs show for clientError
  server.on('clientError', (e: NodeJS.ErrnoException, socket: Duplex) => {
    if (e.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = e.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
    log(`player: unparsable request: ${status} (${e.code ?? e.message})`);
    socket.end(`HTTP/1.1 ${status}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${status}\n`);
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket: Duplex, head) => {
    socket.on('error', () => socket.destroy());
    const refused =
      (req.url ?? '').split('?')[0] !== '/ws' ? 'no WebSocket here (use /ws)' : access.refuse(req, port, true);
    if (refused) {
      log(`player: WebSocket ${req.url}: 403 ${refused}`);
      socket.end(`HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${refused}\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const scheduler = new FrameScheduler();
  const clients = new Set<PlayerSession>();
  let droppedGone = 0,
    repliesGone = 0;
  wss.on('connection', (ws: WebSocket) => {
    ws.on('error', () => ws.terminate()); // a malformed frame from any client ends that client only
    if (clients.size >= opts.maxClients) {
      ws.send(
        JSON.stringify({ type: 'error', message: `too many connections (max ${opts.maxClients}); try again later` }),
      );
      ws.close(1013, 'too many connections');
      return;
    }
    const c = new PlayerSession(
      opts.model,
      {
        json: (obj) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(obj));
        },
        frame: (bytes) => ws.send(bytes),
        open: () => ws.readyState === WebSocket.OPEN,
        congested: () => ws.bufferedAmount > MAX_BUFFERED,
      },
      opts.steps,
      opts.info,
      scheduler,
      opts.simulator,
    );
    clients.add(c);
    ws.on('message', (data, isBinary) => {
      if (isBinary) c.reply({ type: 'error', message: 'expected a text (JSON) message' });
      else c.receive(data.toString());
    });
    ws.on('close', () => {
      clients.delete(c);
      droppedGone += c.dropped;
      repliesGone += c.droppedReplies;
      if (c.droppedReplies) log(`player: a connection that did not read had ${c.droppedReplies} replies dropped`);
      c.close();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        e.code === 'EADDRINUSE'
          ? new Error(
              `player: port ${opts.port} on ${opts.host} is in use; pass --port N (or --port 0 for any free port)`,
            )
          : e,
      ),
    );
    server.listen(opts.port, opts.host, resolve);
  });
  port = (server.address() as { port: number }).port;
  const shown =
    opts.host === '0.0.0.0' || opts.host === '::'
      ? '127.0.0.1'
      : opts.host.includes(':')
        ? `[${opts.host}]`
        : opts.host;
  return {
    url: `http://${shown}:${port}/${access.token && !opts.token ? `?token=${access.token}` : ''}`,
    server,
    dropped: () => droppedGone + [...clients].reduce((a, c) => a + c.dropped, 0),
    droppedReplies: () => repliesGone + [...clients].reduce((a, c) => a + c.droppedReplies, 0),
    close: () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
