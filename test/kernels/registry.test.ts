// The kernel registry: kernels/index.ts is what scripts/kernels.ts makes of kernels/ (a stale index fails CI), and the
// structural checks reject malformed kernel files with their file and line.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { type CompositeOp, inputOrder } from '../../kernels/define.js';
import { tensor } from '../../index.js';
import { compositeNames } from '../../runtime/tags.js';
import { checkKernels } from '../../scripts/kernels.js';

test('kernels/index.ts is up to date and every kernel file passes the checks', () => {
  const { errors, index, names } = checkKernels('kernels');
  expect(errors).toEqual([]);
  expect(names.length).toBeGreaterThanOrEqual(7);
  expect(readFileSync('kernels/index.ts', 'utf8'), 'kernels/index.ts is stale: run npm run kernels').toBe(index);
});

test("a kernel's op is a name Tensor.named uses: a misspelt one does not type-check (npm test runs tsc)", () => {
  // @ts-expect-error no composite op is called sofmax
  const misspelt: CompositeOp = 'sofmax';
  // @ts-expect-error nor does Tensor.named take it
  const named = () => tensor([1, 2]).named('sofmax');
  expect([misspelt, typeof named]).toEqual(['sofmax', 'function']);
  expect(Object.keys(inputOrder).filter((op) => !(compositeNames as readonly string[]).includes(op))).toEqual([]);
});

const good = (name: string, extra = '') => `import { defineKernel } from './define.js';
export default defineKernel({
  name: '${name}',
  op: 'softmax',
  description: 'x',
  devices: ['webgpu', 'cuda'],
  applies: () => true,
  cases: [],
  impl: {
    kind: 'source', sources: { wgsl: () => '', cuda: () => '' }, values: () => [],
    launch: () => ({ grid: [1, 1, 1], block: 1 }),
  },
});${extra}
`;

test('malformed kernel files are rejected with their file and line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-kernel-files-'));
  const files: Record<string, string> = {
    ok: good('ok'),
    misnamed: good('other'),
    imports: `import { tensor } from '../index.js';\n${good('imports')}`,
    two: good('two', '\nexport const helper = 1;'),
    nosource: good('nosource').replace("cuda: () => '' ", ''),
    notdefine: "export default { name: 'notdefine' };\n",
  };
  for (const [n, s] of Object.entries(files)) writeFileSync(join(dir, `${n}.ts`), s);
  const { errors, names } = checkKernels(dir);
  expect(errors).toEqual([
    "kernels/imports.ts:1: a kernel imports only from './define.js' (found '../index.js')",
    "kernels/misnamed.ts:3: name 'other' must be the file's name 'misnamed'",
    "kernels/nosource.ts:10: lists device 'cuda' but has no cuda source",
    'kernels/notdefine.ts:1: the default export must be defineKernel({ ... }) with an object literal',
    'kernels/two.ts:1: a kernel file has one export, its default defineKernel({...}) (found 2 exports)',
  ]);
  expect(names).toContain('ok');
});
