// Renders kernels to CUDA C and compiles them all with `nvcc -ptx` in one call (CI has nvcc, no GPU).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cudaLanguage } from '../../codegen/cuda.js';
import type { Kernel } from '../../codegen/kernel.js';
import { linearize } from '../../codegen/linearize.js';
import { render } from '../../codegen/render.js';
import { ptxasReport } from '../../kernels/check.js';

export function nvccAvailable(): boolean {
  try {
    execFileSync('nvcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Compiles every distinct kernel; returns the PTX entry names. Throws with nvcc's log on failure. */
export function compileAll(kernels: readonly Kernel[], arch = 'sm_90'): string[] {
  const sources = new Map<string, string>();
  for (const k of kernels) {
    const src = render(k, linearize(k, false), cudaLanguage).source;
    if ([...sources.values()].includes(src)) continue;
    const unique = `${k.name}_${sources.size}`;
    sources.set(unique, src.replace(` ${k.name}(`, ` ${unique}(`));
  }
  const includes = [...new Set([...sources.values()].flatMap((s) => s.match(/^#include .*$/gm) ?? []))];
  const body = [...includes, ...[...sources.values()].map((s) => s.replace(/^#include .*$/gm, ''))].join('\n\n');
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-cuda-'));
  writeFileSync(join(dir, 'kernels.cu'), body);
  try {
    execFileSync('nvcc', ['-ptx', `-arch=${arch}`, '-o', join(dir, 'kernels.ptx'), join(dir, 'kernels.cu')], {
      stdio: 'pipe',
    });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    const numbered = body
      .split('\n')
      .map((l, i) => `${String(i + 1).padStart(5)}| ${l}`)
      .join('\n');
    throw new Error(`nvcc failed:\n${err.stderr?.toString() ?? ''}\n${numbered}`);
  }
  const ptx = readFileSync(join(dir, 'kernels.ptx'), 'utf8');
  return [...ptx.matchAll(/\.visible \.entry (\w+)\(/g)].map((m) => m[1]!);
}

/** ptxas's registers per thread and spilled bytes for one kernel, rendered for a 256-thread block and sm_90. */
export function ptxasOf(k: Kernel, arch = 'sm_90'): { registers: number; spills: number } {
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-ptxas-')),
    file = join(dir, `${k.name}.cu`);
  writeFileSync(file, render(k, linearize(k, false), cudaLanguage).source);
  return ptxasReport(dir, k.name, file, arch);
}
