// Counts non-blank, non-comment lines per folder (core = runtime + codegen + backends), like tinygrad's sz.py.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const folders = ['runtime', 'codegen', 'backends', 'kernels', 'models', 'app', 'bench', 'scripts', 'test'];
const core = new Set(['runtime', 'codegen', 'backends']);

function files(dir: string): string[] {
  let out: string[] = [];
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) out = out.concat(files(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function count(path: string): number {
  let inBlock = false,
    n = 0;
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim();
    if (inBlock) {
      if (line.includes('*/')) inBlock = false;
      continue;
    }
    if (line.startsWith('/*')) {
      inBlock = !line.includes('*/');
      continue;
    }
    if (line === '' || line.startsWith('//')) continue;
    n++;
  }
  return n;
}

let coreTotal = 0,
  total = 0;
for (const folder of folders) {
  let dir: string[];
  try {
    dir = files(join(root, folder));
  } catch {
    continue;
  }
  const rows = dir.map((f) => [relative(root, f), count(f)] as const).sort((a, b) => b[1] - a[1]);
  const sum = rows.reduce((a, [, n]) => a + n, 0);
  total += sum;
  if (core.has(folder)) coreTotal += sum;
  console.log(`${folder.padEnd(10)} ${String(sum).padStart(6)}`);
  for (const [f, n] of rows) console.log(`  ${f.padEnd(40)} ${String(n).padStart(6)}`);
}
console.log(`\ncore (runtime + codegen + backends): ${coreTotal} lines; total: ${total}`);
