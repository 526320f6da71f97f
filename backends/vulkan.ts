// Linux: whether Dawn can find a Vulkan adapter, checked before Dawn starts in this process. Without a driver, or
// with one Dawn rejects (Debian 12's own Mesa 22 lavapipe lacks features it needs), Dawn prints three or four lines
// of native warnings on stderr and then finds no adapter; this says why in one line instead, which becomes the
// reason `polygrad devices` gives for WebGPU being unavailable. A driver that is installed is tried by a child
// process (its stderr is ours to read), once per set of drivers: the answer is kept in the cache.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { readCache, writeCache } from '../runtime/cachefile.js';

const libDirs = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/lib64',
  '/lib',
  '/usr/local/lib',
];
const icdDirs = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];
const hint = 'a software one: README "Testing WebGPU without a GPU"';

/** Why no Vulkan driver can load (no loader library, or no driver manifest), or undefined if one may. */
export function missingVulkan(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...libDirs];
  if (!dirs.some((d) => existsSync(`${d}/libvulkan.so.1`))) {
    return `no Vulkan loader (libvulkan.so.1; apt-get install libvulkan1), and ${hint}`;
  }
  if (manifestsIn(env).length) return undefined;
  const listed = listedManifests(env);
  return listed
    ? `VK_ICD_FILENAMES lists no existing file (${listed.join(', ')})`
    : `no Vulkan driver installed (no manifest in ${icdDirs.join(', ')}); for ${hint}`;
}

/** The manifests the environment names instead of the standard directories, if it names any. */
const listedManifests = (env: Readonly<Record<string, string | undefined>>): string[] | undefined =>
  (env.VK_DRIVER_FILES ?? env.VK_ICD_FILENAMES)?.split(':').filter(Boolean);

/** The driver manifests the Vulkan loader would read (VK_ICD_FILENAMES, else the standard and XDG directories). */
function manifestsIn(env: Readonly<Record<string, string | undefined>>): string[] {
  const listed = listedManifests(env);
  if (listed) return listed.filter((f) => existsSync(f));
  const data = (env.XDG_DATA_DIRS ?? '')
    .split(':')
    .filter(Boolean)
    .map((d) => `${d}/vulkan/icd.d`);
  return [...icdDirs, ...data]
    .filter((d) => existsSync(d))
    .flatMap((d) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.json'))
        .map((f) => `${d}/${f}`),
    );
}

/** Probe answers by driver set (why no adapter, or null: one was found); the newest few are kept. */
type Probes = Record<string, string | null>;
const probeFile = 'vulkan-probe.json';
/** Dawn's child: asks for an adapter and says whether one came; Dawn's warnings go to its stderr. */
const probeScript = `const m = await import(process.argv[1]); Object.assign(globalThis, m.globals);
const a = await m.create([]).requestAdapter({ powerPreference: 'high-performance' });
process.stdout.write(a ? 'adapter' : 'none'); process.exit(0);`;

/**
 * Why Dawn will find no Vulkan adapter though a driver is installed (the first warning Dawn gave, in one line), or
 * undefined if it finds one or the child could not tell (then Dawn starts here as before).
 */
export async function rejectedVulkan(env: Readonly<Record<string, string | undefined>>): Promise<string | undefined> {
  const webgpu = createRequire(import.meta.url).resolve('webgpu');
  const drivers = manifestsIn(env).map((f) => `${f}@${statSync(f).mtimeMs}`);
  const key = JSON.stringify([process.version, webgpu, statSync(webgpu).mtimeMs, drivers, env.LD_LIBRARY_PATH ?? '']);
  const known =
    (await readCache<Probes>(probeFile, 'Vulkan probe', (d) =>
      typeof d === 'object' && d !== null && Object.values(d).every((v) => v === null || typeof v === 'string')
        ? undefined
        : 'not probe results',
    )) ?? {};
  if (key in known) return known[key] ?? undefined;
  const child = await new Promise<{ out: string; err: string } | undefined>((done) => {
    execFile(
      process.execPath,
      ['--input-type=module', '-e', probeScript, pathToFileURL(webgpu).href],
      { env: { ...env }, timeout: 30_000 },
      (e, out, err) => done(e ? undefined : { out, err }),
    );
  });
  if (!child || (child.out !== 'adapter' && child.out !== 'none')) return undefined;
  const first = child.err
    .split('\n')
    .map((l) => l.replace(/^Warning:\s*/, '').trim())
    .find(Boolean);
  const missing =
    child.out === 'adapter'
      ? null
      : `Dawn found no Vulkan adapter${first ? ` (${first.replace(/\.$/, '')})` : ''}; for ${hint}`;
  await writeCache(probeFile, Object.fromEntries([...Object.entries(known).slice(-7), [key, missing]]));
  return missing ?? undefined;
}
