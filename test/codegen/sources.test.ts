// Pins what the compiler emits: every kernel of the op suite (f32 and f16), as planned, as the heuristic shapes
// it per target, and under a walk of other valid actions, rendered to JS, WGSL and CUDA C. A refactor that means
// no behaviour change must leave every digest as it is; a change that means to alter the code regenerates them
// with UPDATE_SOURCES=1 and says why in its commit.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { type OptCaps, nextActions } from '../../codegen/actions.js';
import { cudaLanguage } from '../../codegen/cuda.js';
import { optimize } from '../../codegen/heuristic.js';
import type { Kernel } from '../../codegen/kernel.js';
import { jsLanguage } from '../../codegen/js.js';
import { linearize } from '../../codegen/linearize.js';
import { type Language, render } from '../../codegen/render.js';
import { wgslFor } from '../../codegen/wgsl.js';
import { type Tensor, tensor } from '../../index.js';
import { plan } from '../../runtime/plan.js';
import { cases } from '../ops/cases.js';
import { uniform } from '../ops/nd.js';

const fixture = new URL('../fixtures/sources.json', import.meta.url);
const gpu: OptCaps = { globalsAsLoops: false, workgroupSize: 256, threads: 65536 };
const targets: readonly { name: string; caps: OptCaps; language: Language }[] = [
  { name: 'js', caps: { globalsAsLoops: true, workgroupSize: 1, threads: 1 }, language: jsLanguage },
  { name: 'wgsl', caps: gpu, language: wgslFor(256) },
  { name: 'cuda', caps: gpu, language: cudaLanguage },
];

/** The kernel with a walk of up to three valid actions (a case-dependent neighbour each step). */
function walked(k: Kernel, caps: OptCaps, i: number): Kernel {
  let opts = k.opts ?? [];
  for (let step = 0; step < 3; step++) {
    const next = nextActions(k, opts, caps);
    if (!next.length) break;
    opts = next[(i * 7 + step * 13) % next.length]!;
  }
  return { ...k, opts };
}

function digests(): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  cases.forEach((c, i) => {
    const xs: Tensor[] = c.inputs.map((s, j) =>
      tensor(Float32Array.from(uniform(s.shape, j).data), { shape: s.shape }),
    );
    const f16 = c.inputs.every((s) => !s.int && !s.values) ? [c.run(...xs.map((x) => x.cast('f16')))] : [];
    const kernels = plan(c.run(...xs), ...f16);
    const entry: Record<string, string> = {};
    for (const t of targets) {
      const hash = createHash('sha256');
      for (const k of kernels) {
        for (const v of [k, optimize(k, t.caps), walked(k, t.caps, i)]) {
          hash.update(`${render(v, linearize(v, t.caps.globalsAsLoops), t.language).source}\n\0`);
        }
      }
      entry[t.name] = hash.digest('hex').slice(0, 16);
    }
    out[c.name] = entry;
  });
  return out;
}

test('the op suite renders to the pinned sources on every target', () => {
  const now = digests();
  expect(digests(), 'a second pass in one process (names must not depend on what was built before)').toEqual(now);
  if (process.env.UPDATE_SOURCES === '1' || !existsSync(fixture)) {
    writeFileSync(fixture, `${JSON.stringify(now, null, 1)}\n`);
    if (process.env.UPDATE_SOURCES !== '1')
      throw new Error('test/fixtures/sources.json was missing: written now, rerun');
  }
  const pinned = JSON.parse(readFileSync(fixture, 'utf8')) as Record<string, Record<string, string>>;
  const changed = Object.keys({ ...pinned, ...now }).filter(
    (n) => JSON.stringify(pinned[n]) !== JSON.stringify(now[n]),
  );
  expect(changed, 'cases whose rendered kernels changed (UPDATE_SOURCES=1 regenerates when that is meant)').toEqual([]);
}, 120_000);
