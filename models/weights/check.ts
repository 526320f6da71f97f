// Checks on the numbers a weights file declares about itself: a corrupt header must fail with a message, never read
// the wrong bytes or allocate without bound.

/** `value` as a list of non-negative integers (a shape or strides), or an error naming `what`. */
export function checkDims(what: string, value: unknown): number[] {
  if (!Array.isArray(value) || !value.every((n) => Number.isSafeInteger(n) && n >= 0)) {
    throw new Error(`${what} is ${JSON.stringify(value)}; expected a list of non-negative integers`);
  }
  return value as number[];
}

/** `value` as a non-negative integer (an offset or a count), or an error naming `what`. */
export function checkCount(what: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    throw new Error(`${what} is ${JSON.stringify(value)}; expected a non-negative integer`);
  }
  return value as number;
}
