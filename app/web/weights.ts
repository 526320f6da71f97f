// Weights for the page: a safetensors file fetched tensor by tensor with HTTP range requests (never the
// whole file in one buffer), each tensor kept in the browser's Cache Storage for the next visit.
import { f16ToF32 } from '../../codegen/dtype.js';
import type { TensorSource } from '../../models/weights/state.js';

interface Entry {
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  data_offsets: [number, number];
}

async function range(url: string, start: number, end: number): Promise<ArrayBuffer> {
  const r = await fetch(url, { headers: { Range: `bytes=${start}-${end - 1}` } });
  if (r.status !== 206) throw new Error(`weights: ${url} answered ${r.status} to a range request (expected 206)`);
  return r.arrayBuffer();
}

function decode(buf: ArrayBuffer, dtype: Entry['dtype']): Float32Array {
  if (dtype === 'F32') return new Float32Array(buf);
  const h = new Uint16Array(buf);
  return dtype === 'F16'
    ? Float32Array.from(h, f16ToF32)
    : new Float32Array(Uint32Array.from(h, (v) => v << 16).buffer);
}

export async function fetchWeights(
  url: string,
  onProgress: (done: number, total: number) => void,
): Promise<TensorSource> {
  const n = Number(new DataView(await range(url, 0, 8)).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(await range(url, 8, 8 + n))) as Record<string, Entry>;
  delete (header as Record<string, unknown>).__metadata__;
  const cache = typeof caches !== 'undefined' ? await caches.open('polygrad-weights-v1') : undefined;
  const tag = (await fetch(url, { method: 'HEAD' })).headers.get('etag') ?? '';
  const names = Object.keys(header),
    total = names.reduce((a, k) => a + header[k]!.data_offsets[1] - header[k]!.data_offsets[0], 0);
  const data = new Map<string, Float32Array>();
  let done = 0;
  for (const name of names) {
    const e = header[name]!,
      key = `${url}?v=${encodeURIComponent(tag)}&t=${encodeURIComponent(name)}`;
    const hit = await cache?.match(key);
    const buf = hit ? await hit.arrayBuffer() : await range(url, 8 + n + e.data_offsets[0], 8 + n + e.data_offsets[1]);
    if (!hit) await cache?.put(key, new Response(buf.slice(0)));
    data.set(name, decode(buf, e.dtype));
    done += buf.byteLength;
    onProgress(done, total);
  }
  return { names, shape: (k) => header[k]!.shape, read: (k) => data.get(k)! };
}
