// The scheduler's cutting rules by name: DEBUG=1 says which rule realized what (the op and shape), once per new
// schedule; a graph that fuses into one kernel reports no cut.
import { afterEach, describe, expect, test, vi } from 'vitest';
import { randn, setDebug } from '../../index.js';
import { cutRules } from '../../runtime/schedule.js';

const cutsOf = async (make: () => { data(): Promise<unknown> }): Promise<string[]> => {
  const lines: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  setDebug(1);
  try {
    await make().data();
  } finally {
    setDebug(0);
    spy.mockRestore();
  }
  const cuts = lines.filter((l) => l.startsWith('  cut by ')).map((l) => l.slice('  cut by '.length));
  // each line ends in its rule's reason
  return cuts.map((c) => {
    const rule = c.slice(0, c.indexOf(':')) as keyof typeof cutRules;
    expect(c.endsWith(` (${cutRules[rule]})`), c).toBe(true);
    return c.slice(0, c.length - cutRules[rule].length - 3);
  });
};

describe('scheduler cuts, named', () => {
  afterEach(() => setDebug(0));

  test('softmax realizes its row statistics, a fused chain nothing, contiguous() what it marks', async () => {
    const x = await randn([8, 32], { seed: 1 }).realize();
    expect(await cutsOf(() => x.mul(2).add(1).relu())).toEqual([]);
    const soft = await cutsOf(() => x.mul(3).softmax(1));
    expect(soft.length).toBeGreaterThan(0);
    for (const c of soft) expect(c).toMatch(/^reduce under a broadcast or loop: \w+ \[8, 1\]$/);
    expect(await cutsOf(() => x.exp().contiguous().add(1))).toEqual(['contiguous: contiguous [8, 32]']);
  });
});
