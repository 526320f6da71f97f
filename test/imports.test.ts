// The source tree has no import cycles: a module's value imports (what survives compilation; `import type` is
// erased) never lead back to it, so every module can be read, loaded and tested from the bottom up.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(import.meta.dirname, '..');
const sourceDirs = ['runtime', 'codegen', 'backends', 'kernels', 'models', 'app', 'bench', 'scripts'];

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Each file's relative value imports, as file paths; a type-only import or export is left out. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const known = new Set(files),
    graph = new Map<string, string[]>();
  const statement = /^\s*(?:import|export)\s+(type\s+)?(?:[^;'"]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const f of files) {
    const deps = [...readFileSync(f, 'utf8').matchAll(statement)]
      .filter((m) => !m[1])
      .map((m) => normalize(join(dirname(f), m[2]!.replace(/\.js$/, '.ts'))))
      .filter((d) => known.has(d));
    graph.set(f, deps);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan): each is an import cycle. */
function cycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>(),
    low = new Map<string, number>(),
    stack: string[] = [],
    on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const scc: string[] = [];
    for (let w = ''; w !== v; ) {
      w = stack.pop()!;
      on.delete(w);
      scc.push(w);
    }
    if (scc.length > 1) found.push(scc.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

describe('imports', () => {
  test('no module of the source tree imports itself through others', () => {
    const files = [join(root, 'index.ts'), ...sourceDirs.flatMap((d) => tsFiles(join(root, d)))];
    const graph = importGraph(files);
    expect(graph.get(join(root, 'runtime', 'tensor.ts'))!.length).toBeGreaterThan(5); // the parser reads imports
    expect(cycles(graph).map((c) => c.map((f) => relative(root, f)).join(' -> '))).toEqual([]);
  });

  test('the check finds a cycle through value imports and ignores type-only ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polygrad-imports-'));
    try {
      const file = (name: string, text: string): string => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
      };
      const files = [
        file('a.ts', "import { b } from './b.js';\nexport const a = b;\n"),
        file('b.ts', "import {\n  c,\n} from './c.js';\nexport const b = c;\n"),
        file('c.ts', "import { a } from './a.js';\nexport const c = () => a;\n"),
        file('d.ts', "import type { e } from './e.js';\nexport const d = 1 as unknown as e;\n"),
        file('e.ts', "import { d } from './d.js';\nexport type e = typeof d;\n"),
      ];
      expect(cycles(importGraph(files)).map((c) => c.map((f) => relative(dir, f)))).toEqual([['a.ts', 'b.ts', 'c.ts']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
