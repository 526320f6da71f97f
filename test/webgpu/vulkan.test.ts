// Before Dawn starts on Linux: a missing Vulkan driver, or one Dawn rejects, is one line of reason (Dawn would print
// native warnings).
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { missingVulkan, rejectedVulkan } from '../../backends/vulkan.js';
import { backends } from '../backends.js';

const onLinux = process.platform === 'linux';
test.skipIf(!onLinux)('a listed driver manifest that does not exist, or none at all, is the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-vk-')),
    icd = join(dir, 'icd.json'),
    lib = join(dir, 'lib');
  mkdirSync(lib);
  writeFileSync(join(lib, 'libvulkan.so.1'), '');
  writeFileSync(icd, '{}');
  const withLoader = { LD_LIBRARY_PATH: lib };
  expect(missingVulkan({ ...withLoader, VK_ICD_FILENAMES: '/nonexistent/icd.json' })).toBe(
    'VK_ICD_FILENAMES lists no existing file (/nonexistent/icd.json)',
  );
  expect(missingVulkan({ ...withLoader, VK_ICD_FILENAMES: `/nonexistent/icd.json:${icd}` })).toBeUndefined();
  expect(missingVulkan({ ...withLoader, VK_DRIVER_FILES: icd, VK_ICD_FILENAMES: '/nonexistent.json' })).toBeUndefined();
  // a manifest found through XDG_DATA_DIRS
  mkdirSync(join(dir, 'share', 'vulkan', 'icd.d'), { recursive: true });
  writeFileSync(join(dir, 'share', 'vulkan', 'icd.d', 'x.json'), '{}');
  expect(missingVulkan({ ...withLoader, XDG_DATA_DIRS: join(dir, 'share') })).toBeUndefined();
  const none = missingVulkan({ ...withLoader, XDG_DATA_DIRS: dir });
  if (none !== undefined) {
    expect(none).toMatch(/^no Vulkan driver installed \(no manifest in .*\); for a software one: README/);
  }
});

const cache = mkdtempSync(join(tmpdir(), 'pg-vk-cache-')),
  saved = process.env.POLYGRAD_CACHE;
beforeAll(() => {
  process.env.POLYGRAD_CACHE = cache;
});
afterAll(() => {
  if (saved === undefined) delete process.env.POLYGRAD_CACHE;
  else process.env.POLYGRAD_CACHE = saved;
});

test.skipIf(!onLinux)(
  'a driver Dawn cannot use: its first warning in one line, asked once per driver set',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pg-vk-')),
      icd = join(dir, 'fake.json');
    writeFileSync(
      icd,
      JSON.stringify({
        file_format_version: '1.0.0',
        ICD: { library_path: join(dir, 'libvulkan_fake.so'), api_version: '1.3.0' },
      }),
    );
    const env = { ...process.env, VK_ICD_FILENAMES: icd };
    const why = await rejectedVulkan(env);
    expect(why).toMatch(
      /^Dawn found no Vulkan adapter( \(.+\))?; for a software one: README "Testing WebGPU without a GPU"$/,
    );
    expect(why).not.toContain('\n');
    // the answer is kept by driver set: a second start reads it instead of starting Dawn again
    const file = join(cache, 'vulkan-probe.json'),
      probes = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
    const [key] = Object.entries(probes).find(([, v]) => v === why)!;
    writeFileSync(file, JSON.stringify({ ...probes, [key]: 'the kept answer' }));
    expect(await rejectedVulkan(env)).toBe('the kept answer');
    if (backends.includes('webgpu')) expect(await rejectedVulkan(process.env)).toBeUndefined(); // lavapipe works
  },
  60_000,
);
