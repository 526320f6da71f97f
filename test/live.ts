// Live device memory without its high-water mark, for tests that check nothing was left behind.
import { memory } from '../index.js';

export function live(): { buffers: number; bytes: number } {
  const { buffers, bytes } = memory();
  return { buffers, bytes };
}
