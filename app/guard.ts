// Who may talk to the player's server. Any web page the user visits can send requests to 127.0.0.1, so: the Host
// header must name this server (which defeats DNS rebinding), a WebSocket's Origin must be this server's own page
// (or one allowed on purpose), and when the server listens beyond loopback every request must carry the per-run
// token of the URL it printed (as Jupyter does) — in the query once, then in a cookie the page gets.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface GuardOptions {
  /** The address the server listens on (a loopback name, a LAN address, or 0.0.0.0). */
  readonly host: string;
  /** Origins (e.g. `http://studio.example:3000`) whose pages may use the server besides its own. */
  readonly allowOrigins?: readonly string[];
  /** Require the token even on loopback (tests). */
  readonly token?: string;
}

const loopbackNames = new Set(['localhost', '127.0.0.1', '::1', '[::1]']);
export const isLoopback = (host: string): boolean => loopbackNames.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
export const TOKEN_COOKIE = 'polygrad_token';

export interface Guard {
  /** The token a non-loopback server requires (undefined on loopback). */
  readonly token: string | undefined;
  /** Why the request may not be served (one line for the 403 and the log), or undefined. */
  refuse(req: IncomingMessage, port: number, websocket: boolean): string | undefined;
  /** Whether the request presented the token in its query (the page then gets the cookie). */
  tokenInQuery(req: IncomingMessage): boolean;
}

const cookie = (req: IncomingMessage, name: string): string | undefined =>
  (req.headers.cookie ?? '')
    .split(';')
    .map((s) => s.trim().split('='))
    .find(([k]) => k === name)?.[1];
const same = (a: string | undefined, b: string): boolean =>
  a !== undefined && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export function guard(opts: GuardOptions): Guard {
  const token = opts.token ?? (isLoopback(opts.host) ? undefined : randomBytes(24).toString('hex'));
  const allowed = new Set(opts.allowOrigins ?? []);
  const query = (req: IncomingMessage): string | undefined =>
    new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? undefined;
  return {
    token,
    tokenInQuery: (req) => token !== undefined && same(query(req), token),
    refuse(req, port, websocket) {
      const host = req.headers.host ?? '';
      const name = host.replace(/:\d+$/, '').toLowerCase(),
        hostPort = /:(\d+)$/.exec(host)?.[1];
      const ours =
        isLoopback(name) || name === opts.host.toLowerCase() || opts.host === '0.0.0.0' || opts.host === '::';
      const allowedHost = [...allowed].some((o) => {
        try {
          return new URL(o).host === host;
        } catch {
          return false;
        }
      });
      if (!(ours || allowedHost) || (hostPort !== undefined && Number(hostPort) !== port))
        return `Host ${JSON.stringify(host)} is not this server`;
      // browsers always send Origin on a WebSocket; a client without one is not a web page
      const origin = req.headers.origin;
      if (
        websocket &&
        origin !== undefined &&
        origin !== `http://${host}` &&
        origin !== `https://${host}` &&
        !allowed.has(origin)
      ) {
        return `Origin ${origin} may not use this server (pass --allow-origin ${origin} to allow it)`;
      }
      if (token !== undefined && !same(query(req), token) && !same(cookie(req, TOKEN_COOKIE), token)) {
        return 'a token is required: open the URL the server printed (it ends in ?token=…)';
      }
      return undefined;
    },
  };
}
