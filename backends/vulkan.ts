// Linux: whether Dawn can find a Vulkan driver, checked before Dawn starts. Without one Dawn prints three or four
// lines of native warnings on stderr (a loader error and a stack position) and then finds no adapter; this says why
// in one line instead, which becomes the reason `polygrad devices` gives for WebGPU being unavailable.
import { existsSync, readdirSync } from 'node:fs';

const libDirs = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib',
  '/lib/x86_64-linux-gnu', '/lib64', '/lib', '/usr/local/lib'];
const icdDirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
const hint = 'a software one: README "Testing WebGPU without a GPU"';

/** Why no Vulkan driver can load (no loader library, or no driver manifest), or undefined if one may. */
export function missingVulkan(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...libDirs];
  if (!dirs.some((d) => existsSync(`${d}/libvulkan.so.1`))) {
    return `no Vulkan loader (libvulkan.so.1; apt-get install libvulkan1), and ${hint}`;
  }
  const listed = (env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES)?.split(':').filter(Boolean);
  if (listed) {
    const found = listed.some((f) => existsSync(f));
    return found ? undefined : `VK_ICD_FILENAMES lists no existing file (${listed.join(', ')})`;
  }
  const data = (env.XDG_DATA_DIRS ?? '').split(':').filter(Boolean).map((d) => `${d}/vulkan/icd.d`);
  const manifests = [...icdDirs, ...data].some((d) => existsSync(d) && readdirSync(d).some((f) => f.endsWith('.json')));
  return manifests ? undefined : `no Vulkan driver installed (no manifest in ${icdDirs.join(', ')}); for ${hint}`;
}
