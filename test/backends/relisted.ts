// A device that is another one under a new name, listing other tensor cores: its kernels are rendered by a language
// for those cores and compiled through an optional rewrite of their source. For running TC paths a real device's own
// list does not reach (WebGPU subgroup matrices on lavapipe, CUDA mma.sync where WMMA would take the tile).
import type { Backend, TensorCore } from '../../backends/backend.js';
import type { Language } from '../../codegen/render.js';

export function relisted(
  base: Backend,
  name: string,
  about: string,
  cores: readonly TensorCore[],
  language: Language,
  rewrite: (source: string) => string = (s) => s,
): Backend {
  return {
    name,
    caps: { ...base.caps, tensorCores: [...cores] },
    language,
    description: `${base.description}, ${about}`,
    alloc: (b) => base.alloc(b),
    free: (b) => base.free(b),
    write: (b, d, o) => base.write(b, d, o),
    read: (b) => base.read(b),
    compile: (k, r) => base.compile(k, { ...r, source: rewrite(r.source) }),
    launch: (p, k, bufs, vals, timed) => base.launch(p, k, bufs, vals, timed),
    sync: () => base.sync(),
    takeTimes: () => base.takeTimes(),
  };
}
