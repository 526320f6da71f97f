// Integer settings read from the environment (DEBUG, POLYGRAD_THREADS) refuse what is not one, naming the variable,
// where they were ignored before (DEBUG=abc ran silently at level 0).
import { afterEach, expect, test } from 'vitest';
import { envInt } from '../runtime/debug.js';

afterEach(() => {
  delete process.env.PG_TEST_SETTING;
});
test('an integer setting: the fallback when unset, the value when whole and in range, else a one-line error', () => {
  expect(envInt('PG_TEST_SETTING', 1, 7)).toBe(7);
  process.env.PG_TEST_SETTING = '3';
  expect(envInt('PG_TEST_SETTING', 1, 7)).toBe(3);
  for (const bad of ['abc', '1.5', '0', '-2'])
    expect(() => {
      process.env.PG_TEST_SETTING = bad;
      envInt('PG_TEST_SETTING', 1, 7);
    }).toThrow(`PG_TEST_SETTING=${bad}: expected an integer ≥ 1`);
});
