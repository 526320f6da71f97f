// A value that follows async calls: AsyncLocalStorage where the platform has it (Node), else a plain stack
// (right for code that does not interleave two contexts across an await).
import { inNode } from './debug.js';

export interface AsyncContext<T> {
  getStore(): T | undefined;
  run<R>(value: T, f: () => R): R;
}

type Storage = new <T>() => AsyncContext<T>;
const storage: Storage | undefined = await (async () => {
  if (!inNode) return undefined;
  const spec = 'node:async_hooks';
  return ((await import(/* @vite-ignore */ spec)) as { AsyncLocalStorage: Storage }).AsyncLocalStorage;
})();

export function asyncContext<T>(): AsyncContext<T> {
  if (storage) return new storage<T>();
  const stack: T[] = [];
  return {
    getStore: () => stack[stack.length - 1],
    run: <R>(v: T, f: () => R): R => {
      stack.push(v);
      try {
        return f();
      } finally {
        stack.pop();
      }
    },
  };
}
