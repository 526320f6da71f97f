// Builds the stand-in CUDA libraries of test/cuda/fake with the C compiler, once per version of their sources (in a
// folder named by their hash under the temporary directory): the logging driver, NVRTC through nvcc, and NVRTC for
// the emulator (CUDA C compiled by g++ against fake/include, run by the driver on host threads).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StandIn {
  readonly driver: string;
  /** NVRTC that compiles to PTX with nvcc (kernels load but do not run). */
  readonly nvrtc: string;
  /** NVRTC that compiles for the emulator (kernels run on the host). */
  readonly emulator: string;
}

const fake = join(dirname(fileURLToPath(import.meta.url)), 'fake');

/** The libraries, or why they could not be built. */
export function standIn(): StandIn | string {
  const sources = ['libcuda.c', 'libnvrtc.c', ...readdirSync(join(fake, 'include')).map((f) => join('include', f))];
  const hash = createHash('sha256');
  for (const f of sources) hash.update(f).update(readFileSync(join(fake, f)));
  const dir = join(tmpdir(), `polygrad-cuda-stand-in-${hash.digest('hex').slice(0, 16)}`);
  const out = { driver: 'libcuda.so.1', nvrtc: 'libnvrtc.so', emulator: 'libnvrtc-emulator.so' };
  const paths = Object.fromEntries(Object.entries(out).map(([k, f]) => [k, join(dir, f)])) as unknown as StandIn;
  const build = (src: string, lib: string, ...flags: string[]): void => {
    if (existsSync(lib)) return;
    const part = `${lib}.${process.pid}`; // several test processes may build at once: each renames its own into place
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', ...flags, '-o', part, join(fake, src), '-ldl'], {
      stdio: 'pipe',
    });
    renameSync(part, lib);
  };
  try {
    mkdirSync(dir, { recursive: true });
    build('libcuda.c', paths.driver);
    build('libnvrtc.c', paths.nvrtc);
    build('libnvrtc.c', paths.emulator, `-DPG_EMULATE="${join(fake, 'include')}"`);
    return paths;
  } catch (e) {
    return `cc failed: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}`;
  }
}
