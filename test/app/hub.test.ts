// Released weights from a Hub-shaped HTTP server (<endpoint>/<repo>/resolve/<rev>/model.safetensors serving the
// fixture PyTorch checkpoint): a whole download converts to f16 safetensors that hold the fixture's values; a cut
// connection resumes with a Range request; 401 without a token, 404, a truncated body and a wrong sha256 are one
// clear line each, and nothing half-written is ever used.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { type IncomingMessage, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseModelRef, pull } from '../../app/hub.js';
import { f16Beside } from '../../app/neuralos.js';
import { SafetensorsFile } from '../../models/weights/safetensors.js';

const file = readFileSync('test/fixtures/neuralos/weights.ckpt'),
  sha = createHash('sha256').update(file).digest('hex');
const repo = 'org/tiny-neuralos',
  dir = mkdtempSync(join(tmpdir(), 'polygrad-hub-'));
/**
 * What the server does on the next request: serve whole, cut after n bytes, claim more than it sends, or lie about the
 * hash.
 */
let mode: { cutAt?: number; truncateTo?: number; badHash?: boolean; token?: string; cdn?: boolean } = {};
const requests: { method: string; url: string; range?: string }[] = [];
let endpoint = '';

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  requests.push({ method: req.method!, url: req.url!, range: req.headers.range });
  const etag = mode.badHash ? '0'.repeat(64) : sha,
    resolve = `/${repo}/resolve/main/model.safetensors`;
  if (mode.token && req.headers.authorization !== `Bearer ${mode.token}`) {
    res.writeHead(401).end('unauthorized');
    return;
  }
  if (mode.cdn && req.url === resolve) {
    // as the Hub does: the file's hash and size on the redirect, the CDN's own ETag (not the file's sha256) after it
    res
      .writeHead(302, { location: '/cdn/blob', 'x-linked-etag': `"${etag}"`, 'x-linked-size': String(file.length) })
      .end();
    return;
  }
  if (req.url !== (mode.cdn ? '/cdn/blob' : resolve)) {
    res.writeHead(404).end('not found');
    return;
  }
  const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0),
    body = file.subarray(from);
  res.writeHead(from ? 206 : 200, {
    'content-length': String(body.length),
    etag: `"${mode.cdn ? '1'.repeat(64) : etag}"`,
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const sent = mode.truncateTo ?? mode.cutAt;
  if (sent === undefined) {
    res.end(body);
    return;
  }
  res.write(body.subarray(0, sent - from), () => res.destroy()); // the connection drops mid-body
});

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('polygrad pull / --model hf:', () => {
  test('model references', () => {
    expect(parseModelRef('hf:org/repo')).toEqual({ repo: 'org/repo', rev: 'main' });
    expect(parseModelRef('org/repo@v1.0')).toEqual({ repo: 'org/repo', rev: 'v1.0' });
    expect(() => parseModelRef('hf:just-a-name')).toThrow(
      '--model hf:just-a-name: expected hf:<org>/<repo>[@revision]',
    );
  });

  test(
    'a cut download resumes with a Range request; the whole file converts to f16 with the fixture ' + 'values',
    async () => {
      const cache = join(dir, 'resume');
      mode = { cutAt: 5000 };
      await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache })).rejects.toThrow(
        /^hub: download of org\/tiny-neuralos cut at 5000 of \d+ bytes .*; run again to resume$/,
      );
      const dest = join(cache, 'hub', 'org--tiny-neuralos', 'main', 'model.safetensors');
      expect(existsSync(dest)).toBe(false);
      expect(statSync(`${dest}.part`).size).toBe(5000);
      mode = {};
      requests.length = 0;
      expect(await pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache })).toBe(dest);
      expect(requests.filter((r) => r.method === 'GET').map((r) => r.range)).toEqual(['bytes=5000-']);
      expect(readFileSync(dest).equals(file)).toBe(true);
      // a second pull uses the file as it is
      requests.length = 0;
      await pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache });
      expect(requests).toHaveLength(0);
      const f16 = new SafetensorsFile(f16Beside(dest)),
        ref = new SafetensorsFile('test/fixtures/neuralos/weights.safetensors');
      expect([...f16.tensors.keys()].sort()).toEqual([...ref.tensors.keys()].sort());
      for (const name of ['model.diffusion_model.out.2.weight', 'temporal_encoder.lstm_lower.weight_ih_l0']) {
        const a = f16.read(name),
          b = ref.read(name);
        expect(f16.tensors.get(name)!.dtype).toBe('F16');
        b.forEach((v, i) => expect(Math.abs(a[i]! - v)).toBeLessThanOrEqual(1e-3 * Math.abs(v) + 1e-7));
      }
      f16.close();
      ref.close();
    },
  );

  test("behind a redirect to a CDN, the hash and size are the Hub's (X-Linked-*), not the CDN's ETag", async () => {
    mode = { cdn: true };
    const dest = await pull({ repo, rev: 'main' }, { endpoint, cacheDir: join(dir, 'cdn') });
    expect(readFileSync(dest).equals(file)).toBe(true);
    mode = { cdn: true, badHash: true };
    await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: join(dir, 'cdn-bad') })).rejects.toThrow(
      /is not the Hub's 0{64}/,
    );
  });

  test('401 without a token, the token sent when given, 404 for a wrong repo', async () => {
    mode = { token: 'secret' };
    const cache = join(dir, 'auth');
    await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache, token: '' })).rejects.toThrow(
      'hub: org/tiny-neuralos: 401 access denied: set HF_TOKEN to a Hugging Face token that can read it',
    );
    await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache, token: 'wrong' })).rejects.toThrow(
      'hub: org/tiny-neuralos: 401 the token in HF_TOKEN cannot read this repo',
    );
    expect(await pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache, token: 'secret' })).toMatch(
      /model\.safetensors$/,
    );
    mode = {};
    await expect(pull({ repo: 'org/absent', rev: 'main' }, { endpoint, cacheDir: cache })).rejects.toThrow(
      `hub: ${endpoint}/org/absent/resolve/main/model.safetensors: not found (check the repo name and the revision ` +
        `'main')`,
    );
  });

  test('a truncated body or a wrong sha256 is never used', async () => {
    const cache = join(dir, 'bad'),
      dest = join(cache, 'hub', 'org--tiny-neuralos', 'main', 'model.safetensors');
    mode = { truncateTo: file.length - 100 };
    await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache })).rejects.toThrow(
      /^hub: download of org\/tiny-neuralos (cut|ended) at \d+ of \d+ bytes/,
    );
    expect(existsSync(dest)).toBe(false);
    mode = { badHash: true };
    await expect(pull({ repo, rev: 'main' }, { endpoint, cacheDir: cache })).rejects.toThrow(
      /sha256 [0-9a-f]{64} is not the Hub's 0{64}; removed it, run again$/,
    );
    expect(existsSync(dest) || existsSync(`${dest}.part`)).toBe(false);
  });
});
