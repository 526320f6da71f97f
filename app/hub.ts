// Released weights from the Hugging Face Hub: `hf:<org>/<repo>[@rev]` downloads <endpoint>/<repo>/resolve/<rev>/
// model.safetensors (HF_ENDPOINT, HF_TOKEN as huggingface_hub reads them) into $POLYGRAD_CACHE/hub, resuming a cut
// download with a Range request, and uses a file only once it is whole: its size is the announced one and, where
// the Hub gives the file's sha256 (the ETag of an LFS file), its hash matches. The release's file is a torch pickle;
// app/neuralos.ts converts it once, tensor by tensor in bounded pieces, to f16 safetensors beside it.
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { envFlag } from '../runtime/debug.js';
import { UsageError } from './args.js';

export interface ModelRef {
  readonly repo: string;
  readonly rev: string;
}
/** The demo's model (neuralos-demo's newest head), which `--model hf:` names without a repo. */
export const defaultRepo = 'yuntian-deng/computer-model-adddoom_play-8gpus-classic-fix2-cont-pretrainrnn22nn-060000';

/**
 * `hf:org/repo[@rev]` (or `org/repo[@rev]`) as a repo and revision, or a one-line usage error that starts with `what`
 * (where the text came from: the --model flag unless told).
 */
export function parseModelRef(text: string, what = `--model ${text}`): ModelRef {
  const m = /^(?:hf:)?([\w.-]+\/[\w.-]+)(?:@([\w./-]+))?$/.exec(text);
  if (!m) throw new UsageError(`${what}: expected hf:<org>/<repo>[@revision]`);
  return { repo: m[1]!, rev: m[2] ?? 'main' };
}

export interface PullOptions {
  readonly endpoint?: string;
  readonly token?: string;
  readonly cacheDir?: string;
  /** Bytes so far, bytes in all (undefined when the server does not say), bytes per second. */
  readonly onProgress?: (done: number, total: number | undefined, rate: number) => void;
}

const cacheRoot = (o: PullOptions) => o.cacheDir ?? envFlag('POLYGRAD_CACHE') ?? join(homedir(), '.cache', 'polygrad');

/** The local path of the repo's model.safetensors, downloaded (or resumed) if it is not whole there yet. */
export async function pull(ref: ModelRef, opts: PullOptions = {}): Promise<string> {
  const endpoint = (opts.endpoint ?? envFlag('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token = opts.token ?? envFlag('HF_TOKEN');
  const dest = join(cacheRoot(opts), 'hub', ref.repo.replace('/', '--'), ref.rev, 'model.safetensors'),
    part = `${dest}.part`;
  if (existsSync(dest)) return dest;
  mkdirSync(dirname(dest), { recursive: true });
  const url = `${endpoint}/${ref.repo}/resolve/${encodeURIComponent(ref.rev)}/model.safetensors`;
  const have = existsSync(part) ? statSync(part).size : 0;
  const headers: Record<string, string> = {
    'user-agent': 'polygrad',
    ...(token ? { authorization: `Bearer ${token}` } : {}),
  };
  const request = async (init: RequestInit): Promise<Response> => {
    try {
      return await fetch(url, init);
    } catch (e) {
      throw new Error(
        `hub: ${url}: ` +
          `${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`,
      );
    }
  };
  const refuse = (res: Response): void => {
    if (res.status === 401 || res.status === 403) {
      const why = token
        ? 'the token in HF_TOKEN cannot read this repo'
        : 'access denied: set HF_TOKEN to a Hugging Face token that can read it';
      throw new Error(`hub: ${ref.repo}: ${res.status} ${why}`);
    }
    if (res.status === 404)
      throw new Error(`hub: ${url}: not found (check the repo name and the revision '${ref.rev}')`);
  };
  // as huggingface_hub does: the file's size and sha256 come from the Hub's own answer (X-Linked-Size/-Etag on the
  // redirect to the CDN), not from the CDN's, whose ETag is not the file's hash
  const head = await request({ method: 'HEAD', headers, redirect: 'manual' });
  refuse(head);
  const own = head.status === 200,
    unquote = (v: string | null) => (v ?? '').replace(/^W\//, '').replace(/"/g, '');
  const etag = unquote(head.headers.get('x-linked-etag') ?? (own ? head.headers.get('etag') : null));
  const size = Number(head.headers.get('x-linked-size') ?? (own ? head.headers.get('content-length') : null) ?? NaN);
  if (have > 0) headers.range = `bytes=${have}-`;
  const res = await request({ headers, redirect: 'follow' });
  refuse(res);
  if (res.status === 416 && have > 0) rmSync(part); // the part is longer than the file: start again next time
  if (res.status !== 200 && res.status !== 206) throw new Error(`hub: ${url}: HTTP ${res.status} ${res.statusText}`);
  // 206: the server continues where the part ends; 200: it sends everything again
  const from = res.status === 206 ? have : 0;
  const length = Number(res.headers.get('content-length') ?? NaN);
  const total = Number.isFinite(size) && size > 0 ? size : Number.isFinite(length) ? from + length : undefined;
  const fd = openSync(part, from > 0 ? 'a' : 'w');
  let done = from;
  const started = performance.now();
  try {
    if (!res.body) throw new Error('empty response');
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      writeSync(fd, chunk);
      done += chunk.length;
      opts.onProgress?.(done, total, (done - from) / Math.max(1e-3, (performance.now() - started) / 1000));
    }
  } catch (e) {
    throw new Error(
      `hub: download of ${ref.repo} cut at ${done} of ${total ?? '?'} bytes (${(e as Error).message}); run again to ` +
        `resume`,
    );
  } finally {
    closeSync(fd);
  }
  if (total !== undefined && done !== total) {
    throw new Error(`hub: download of ${ref.repo} ended at ${done} of ${total} bytes (truncated); run again to resume`);
  }
  if (/^[0-9a-f]{64}$/.test(etag)) {
    const got = sha256(part);
    if (got !== etag) {
      rmSync(part);
      throw new Error(`hub: ${ref.repo}: the download's sha256 ${got} is not the Hub's ${etag}; removed it, run again`);
    }
  }
  renameSync(part, dest);
  return dest;
}

function sha256(path: string): string {
  const h = createHash('sha256'),
    fd = openSync(path, 'r'),
    buf = Buffer.alloc(1 << 22);
  try {
    for (let n: number; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) h.update(buf.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** A progress line: bytes, rate and time left. */
export function downloadBar(done: number, total: number | undefined, rate: number): string {
  const mb = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  const eta = total !== undefined && rate > 0 ? `, ${Math.ceil((total - done) / rate)} s left` : '';
  return (
    `\rdownloading: ${mb(done)}${total !== undefined ? ` of ${mb(total)}` : ''} at ` +
    `${(rate / 2 ** 20).toFixed(1)} MiB/s${eta}   `
  );
}
