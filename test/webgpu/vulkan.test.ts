// Before Dawn starts on Linux: a missing Vulkan driver is one line of reason (Dawn would print native warnings).
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { missingVulkan } from '../../backends/vulkan.js';

const onLinux = process.platform === 'linux';
test.skipIf(!onLinux)('a listed driver manifest that does not exist, or none at all, is the reason', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pg-vk-')), icd = join(dir, 'icd.json'), lib = join(dir, 'lib');
  mkdirSync(lib);
  writeFileSync(join(lib, 'libvulkan.so.1'), '');
  writeFileSync(icd, '{}');
  const withLoader = { LD_LIBRARY_PATH: lib };
  expect(missingVulkan({ ...withLoader, VK_ICD_FILENAMES: '/nonexistent/icd.json' }))
    .toBe('VK_ICD_FILENAMES lists no existing file (/nonexistent/icd.json)');
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
