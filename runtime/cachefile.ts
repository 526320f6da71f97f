// Files polygrad keeps between runs under $POLYGRAD_CACHE (default ~/.cache/polygrad): what `polygrad kernels bench`
// measured (kernels.json) and what BEAM search chose (beam.json). Node only; in a browser there is no cache file.
// A file that cannot be read as its format is ignored with one warning, never trusted and never fatal.
import { envFlag, inNode } from './debug.js';

const node = async <T>(spec: string): Promise<T> => (await import(/* @vite-ignore */ spec)) as T;

/** The path of cache file `name`, or undefined where there is no file system. */
export async function cachePath(name: string): Promise<string | undefined> {
  if (!inNode) return undefined;
  const [os, path] = [
    await node<typeof import('node:os')>('node:os'),
    await node<typeof import('node:path')>('node:path'),
  ];
  return path.join(envFlag('POLYGRAD_CACHE') ?? path.join(os.homedir(), '.cache', 'polygrad'), name);
}

/**
 * The contents of cache file `name` where `check` accepts them (it returns why not, else undefined); a missing file
 * is undefined, an unreadable or rejected one too, after a one-line warning naming the file and the reason.
 */
export async function readCache<T>(
  name: string,
  what: string,
  check: (data: unknown) => string | undefined,
): Promise<T | undefined> {
  const file = await cachePath(name);
  if (!file) return undefined;
  const fs = await node<typeof import('node:fs')>('node:fs');
  if (!fs.existsSync(file)) return undefined;
  try {
    const data: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    const why = check(data);
    if (why) throw new Error(why);
    return data as T;
  } catch (e) {
    console.warn(`polygrad: ignoring the ${what} ${file}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Writes cache file `name` whole (a temporary file renamed over it, so a reader never sees half a file). */
export async function writeCache(name: string, data: unknown): Promise<string | undefined> {
  const file = await cachePath(name);
  if (!file) return undefined;
  const [fs, path] = [
    await node<typeof import('node:fs')>('node:fs'),
    await node<typeof import('node:path')>('node:path'),
  ];
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(data, null, 1));
  fs.renameSync(tmp, file);
  return file;
}
