// Index checks on targets that cannot throw (GPUs): a kernel records the first failed check in a status word and
// the host raises it at its next read, as CUDA reports device-side asserts. Each message gets a stable code, so
// kernel sources (the keys of the compile caches) stay the same from run to run.
import { fnv } from './uop.js';
/** The name of the status word (u32 code, u32 value) in GPU kernel sources. */
export const statusName = 'pg_status';

const codes = new Map<string, number>();
const messages = new Map<number, string>();

/**
 * The code of a failed check `message` on the range [lo, hi] (never 0, which means no failure): a hash of the
 * message, so a kernel's source does not depend on which checks were rendered before it.
 */
export function checkCode(message: string, lo: number, hi: number): number {
  const key = JSON.stringify([message, lo, hi]);
  let code = codes.get(key);
  if (code === undefined) {
    code = (fnv(key) % 0x7fffffff) + 1;
    while (messages.has(code) && messages.get(code) !== key) code = (code % 0x7fffffff) + 1; // a collision: probe on
    messages.set(code, key);
    codes.set(key, code);
  }
  return code;
}

/** The error a status word (code, offending value) stands for, as the CPU target words it. */
export function checkError(code: number, value: number): RangeError {
  const [message, lo, hi] = JSON.parse(messages.get(code) ?? '["index check", 0, 0]') as [string, number, number];
  return new RangeError(`${message}: index ${value} is out of range [${lo}, ${hi}]`);
}
