// DEBUG levels and global counters, the way tinygrad users read a run.
const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env ?? {};
/** Running in Node (not a browser): what file, thread, crypto and native-backend code asks first. */
export const inNode = !!(globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node;

/** An integer setting from the environment, `fallback` where unset; anything else is an error naming it. */
export function envInt(name: string, min: number, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name}=${v}: expected an integer ≥ ${min}`);
  return n;
}

let level = envInt('DEBUG', 0, 0);
export const debugLevel = (): number => level;
/** 1: schedule summaries, 2: one line per kernel, 4: kernel source. */
export const setDebug = (n: number): void => {
  level = n;
};
export const envFlag = (name: string): string | undefined => env[name];

export const stats = {
  kernels: 0,
  compiles: 0,
  flops: 0,
  bytes: 0,
  scheduleCacheHits: 0,
  schedules: 0,
  reset(): void {
    this.kernels = this.compiles = this.flops = this.bytes = this.scheduleCacheHits = this.schedules = 0;
  },
};

const fmtTime = (ms: number): string => (ms < 1 ? `${(ms * 1000).toFixed(2)}us` : `${ms.toFixed(2)}ms`);

/** One DEBUG=2 line: the launch's number, kernel name, buffers, time and rates. */
export function kernelLine(
  device: string,
  n: number,
  name: string,
  args: number,
  ms: number,
  flops: number,
  bytes: number,
): string {
  const s = ms / 1000;
  return (
    `*** ${device.padEnd(6)} ${String(n).padStart(4)} ${name.padEnd(36)} arg ${String(args).padStart(2)}` +
    `  tm ${fmtTime(ms).padStart(9)}  (${(flops / s / 1e9).toFixed(2).padStart(8)} GFLOPS ` +
    `${(bytes / s / 1e9).toFixed(2).padStart(7)} GB/s)`
  );
}
