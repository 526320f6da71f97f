// The polygrad command line as data: every command with its flags (type, default, help), parsed by Node's
// util.parseArgs in strict mode, so an unknown flag or a bad value is one line and exit status 2 before anything
// loads, and `polygrad help` / `<command> --help` are generated from the same table.
import { parseArgs } from 'node:util';
import { inputOrder } from '../kernels/define.js';

/**
 * How a flag's value is checked: a free string, an integer in [min, max], a positive number, a size in bytes, or one
 * of a list.
 */
type Check =
  | { readonly int: readonly [number, number] }
  | { readonly positive: true }
  | { readonly bytes: true }
  | { readonly oneOf: readonly string[] };
interface FlagSpec {
  readonly help: string;
  /** Takes no value. */
  readonly bool?: boolean;
  readonly default?: string;
  readonly check?: Check;
}
interface CommandSpec {
  readonly usage: string;
  readonly about: string;
  readonly flags: Readonly<Record<string, FlagSpec>>;
  /** Positional arguments: how many (none if left out), and the words the first may be (a model, a subcommand). */
  readonly args?: {
    readonly min: number;
    readonly max: number;
    readonly first?: { readonly what: string; readonly words: readonly string[] };
  };
}

const model: Record<string, FlagSpec> = {
  model: {
    help: 'released weights: hf:<org>/<repo>[@rev], downloaded once into $POLYGRAD_CACHE/hub (HF_TOKEN, HF_ENDPOINT)',
  },
  checkpoint: {
    help: 'weights: a PyTorch checkpoint or safetensors file (without: the demo model trained on a synthetic desktop)',
  },
  random: { bool: true, help: 'the tiny config with seeded random weights (pipeline tests; frames are noise)' },
  config: {
    help:
      'model config: demo, tiny, full, or a FILE (the reference LDM YAML, or JSON) (default: full with ' +
      '--checkpoint)',
  },
  'latent-stats': { help: 'latent_stats.json for a YAML config whose latent channels are not 16' },
  'allow-missing': { bool: true, help: 'load a checkpoint that lacks some keys (they are zero)' },
  device: {
    help: 'backend: cpu, webgpu or cuda (default: the best one found)',
    check: { oneOf: ['cpu', 'webgpu', 'cuda'] },
  },
};
const neuralos = { min: 1, max: 1, first: { what: 'model', words: ['neuralos'] } } as const;
const steps: FlagSpec = { help: 'DDIM sampling steps', check: { int: [1, 999] } };

export const commands: Readonly<Record<string, CommandSpec>> = {
  play: {
    usage: 'polygrad [play] [flags]',
    about: 'the NeuralOS player: a local server and page (the default command)',
    flags: {
      ...model,
      steps: {
        ...steps,
        help: 'DDIM sampling steps (default: 8 for the demo model, 4 with --random, 16 for a checkpoint)',
        check: { int: [1, 32] },
      },
      host: { help: 'address to listen on (beyond loopback a token guards the page)', default: '127.0.0.1' },
      port: { help: 'port to listen on (0: any free port)', default: '8080', check: { int: [0, 65535] } },
      'max-clients': { help: 'players at once', default: '4', check: { int: [1, 1000] } },
      'allow-origin': { help: 'comma-separated page origins allowed besides the server itself' },
    },
  },
  devices: { usage: 'polygrad devices', about: 'the backends found, their limits, and a fused run on each', flags: {} },
  neuralos: {
    usage: 'polygrad neuralos [flags]',
    about: 'render an event list to PNG frames',
    flags: {
      ...model,
      steps: { ...steps, default: '8' },
      events: { help: 'a JSON list of events in the reference format (default: three built-in events)' },
      frames: { help: 'folder for the PNG frames', default: 'frames' },
      noise: { help: 'a float32 file of initial latents, one per frame (to compare with a reference run)' },
      dump: { help: "folder for raw float32 dumps of each frame's state, latent and decoded image" },
    },
  },
  profile: {
    usage: 'polygrad profile neuralos [flags]',
    about: 'frames under the profiler: per-op and per-stage tables, a Chrome trace',
    args: neuralos,
    flags: {
      ...model,
      steps: { ...steps, default: '4' },
      frames: { help: 'frames profiled', default: '2', check: { int: [1, 10_000] } },
      trace: { help: 'where the Chrome trace goes', default: 'neuralos-trace.json' },
    },
  },
  tune: {
    usage: 'polygrad tune neuralos [flags]',
    about: 'search optimizer actions (BEAM) for every kernel of a frame, cached on disk',
    args: neuralos,
    flags: {
      ...model,
      steps: { ...steps, default: '4' },
      frames: { help: 'frames timed before and after', default: '3', check: { int: [1, 10_000] } },
      beam: { help: 'beam width (default: BEAM, else 2)', check: { int: [1, 64] } },
      budget: { help: 'search seconds per kernel', check: { positive: true } },
    },
  },
  plan: {
    usage: 'polygrad plan neuralos [flags]',
    about: 'how the model fits a device: chunks, shards, bytes, without running it',
    args: neuralos,
    flags: {
      config: { help: 'model config: demo, tiny, full or a FILE', default: 'full' },
      dtype: { help: 'weight storage', default: 'f32', check: { oneOf: ['f32', 'f16', 'bf16'] } },
      limits: { help: 'device limits: webgpu-default, lavapipe, cuda or a JSON FILE', default: 'webgpu-default' },
      memory: { help: 'device memory to fit, e.g. 8GB', check: { bytes: true } },
      json: { bool: true, help: 'print the plan as JSON' },
    },
  },
  kernels: {
    usage: 'polygrad kernels list | check [name] | bench [name] | new <name> --op <op>',
    about: 'contributed kernels in kernels/',
    args: { min: 1, max: 2, first: { what: 'subcommand', words: ['list', 'check', 'bench', 'new'] } },
    flags: { op: { help: 'for new: the op the kernel implements', check: { oneOf: Object.keys(inputOrder) } } },
  },
  convert: {
    usage: 'polygrad convert IN OUT.safetensors [--f16]',
    about: 'rewrite a checkpoint as safetensors, one tensor at a time',
    args: { min: 2, max: 2 },
    flags: { f16: { bool: true, help: 'store f16 (half the size)' } },
  },
  pull: {
    usage: 'polygrad pull [<org>/<repo>[@rev]]',
    about: "download released weights from the Hugging Face Hub (default: the demo's model)",
    flags: {},
    args: { min: 0, max: 1 },
  },
  help: { usage: 'polygrad help [command]', about: 'this help', flags: {}, args: { min: 0, max: 1 } },
};

export type Flags = Record<string, string | boolean>;
export interface Parsed {
  readonly command: string;
  readonly positional: string[];
  readonly flags: Flags;
  readonly help: boolean;
}

/** A usage error: the CLI prints its message on one line and exits with status 2. */
export class UsageError extends Error {}

/** The command, its positionals and its flags (defaults filled in, values checked), or a UsageError. */
export function parseCommandLine(argv: readonly string[]): Parsed {
  const first = argv[0];
  const command =
    first === '-h' || first === '--help' ? 'help' : first === undefined || first.startsWith('-') ? 'play' : first;
  const spec = commands[command];
  if (!spec)
    throw new UsageError(
      `polygrad: unknown command '${command}' (commands: ${Object.keys(commands).join(', ')}; polygrad help)`,
    );
  const options: Record<string, { type: 'string' | 'boolean'; short?: string }> = {
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean' },
  };
  for (const [name, f] of Object.entries(spec.flags)) options[name] = { type: f.bool ? 'boolean' : 'string' };
  const args = argv.slice(first === command || command === 'help' ? 1 : 0);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: negativeValues(args, options), options, strict: true, allowPositionals: true });
  } catch (e) {
    // Node's messages are long and mention its own API: keep the first sentence, say where to look
    const m = (e as Error).message.split(/\.\s/)[0]!.replace(/^Unknown option/, 'unknown flag');
    throw new UsageError(`polygrad ${command}: ${m} (polygrad ${command} --help lists the flags)`);
  }
  const flags: Flags = {};
  for (const [name, f] of Object.entries(spec.flags)) {
    const v = parsed.values[name] ?? f.default;
    if (v === undefined) continue;
    if (typeof v === 'string' && f.check) checkValue(command, name, v, f.check);
    flags[name] = v as string | boolean;
  }
  if (parsed.values.version) flags.version = true;
  checkPositionals(command, spec, parsed.positionals);
  return { command, positional: parsed.positionals, flags, help: !!parsed.values.help || command === 'help' };
}

/** `--budget -1` as `--budget=-1`: parseArgs would not take a value that starts with a dash (it calls it ambiguous). */
function negativeValues(args: readonly string[], options: Record<string, { type: string }>): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!,
      next = args[i + 1];
    if (/^--[^=]+$/.test(a) && options[a.slice(2)]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      out.push(`${a}=${next}`);
      i++;
    } else out.push(a);
  }
  return out;
}

function checkPositionals(command: string, spec: CommandSpec, given: readonly string[]): void {
  const { min, max, first } = spec.args ?? { min: 0, max: 0 };
  const usage = `usage: ${spec.usage}`;
  if (command === 'help' && given[0] !== undefined && !commands[given[0]])
    throw new UsageError(
      `polygrad help: unknown command '${given[0]}' (commands: ${Object.keys(commands).join(', ')})`,
    );
  if (first && given[0] !== undefined && !first.words.includes(given[0]))
    throw new UsageError(
      `polygrad ${command}: unknown ${first.what} '${given[0]}' (${first.words.join(', ')}; ${usage})`,
    );
  if (given.length < min)
    throw new UsageError(
      first
        ? `polygrad ${command}: missing the ${first.what} (${first.words.join(', ')}; ${usage})`
        : `polygrad ${command}: expected ${min} arguments, got ${given.length} (${usage})`,
    );
  if (given.length > max) throw new UsageError(`polygrad ${command}: unexpected argument '${given[max]}' (${usage})`);
}

function checkValue(command: string, name: string, v: string, c: Check): void {
  const bad = (want: string) => new UsageError(`polygrad ${command}: --${name} must be ${want}, got '${v}'`);
  if ('int' in c) {
    const n = Number(v);
    if (!/^-?\d+$/.test(v) || n < c.int[0] || n > c.int[1]) throw bad(`an integer in [${c.int[0]}, ${c.int[1]}]`);
  } else if ('positive' in c) {
    if (!(Number(v) > 0) || !Number.isFinite(Number(v))) throw bad('a positive number');
  } else if ('bytes' in c) {
    if (!(parseBytes(v) > 0)) throw bad('a size in bytes such as 8GB, 24GiB or 1e9');
  } else if (!c.oneOf.includes(v)) {
    throw bad(`one of ${c.oneOf.join(', ')}`);
  }
}

/** `8GB`, `512MiB`, `1e9`: a size in bytes, or NaN. */
export function parseBytes(s: string): number {
  const m = /^\s*(\d+(?:\.\d*)?(?:e\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.exec(s);
  const units: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  return m ? Number(m[1]) * units[(m[2] ?? 'b').toLowerCase()]! : Number.NaN;
}

/** `polygrad help` (every command) or one command's usage and flags with their defaults. */
export function helpText(command?: string): string {
  if (command === undefined || command === 'help' || !commands[command]) {
    const width = Math.max(...Object.keys(commands).map((c) => c.length));
    return [
      'polygrad: lazy tensors fused into WGSL / CUDA / JS kernels, and the NeuralOS player',
      '',
      'commands:',
      ...Object.entries(commands).map(([c, s]) => `  ${c.padEnd(width)}  ${s.about}`),
      '',
      'polygrad <command> --help shows its flags; polygrad --version the version',
    ].join('\n');
  }
  const s = commands[command]!,
    names = Object.keys(s.flags),
    width = Math.max(0, ...names.map((n) => n.length + 2));
  return [
    `usage: ${s.usage}`,
    s.about,
    '',
    ...(names.length ? ['flags:'] : []),
    ...names.map((n) => {
      const f = s.flags[n]!;
      return `  --${n.padEnd(width)}  ${f.help}${f.default !== undefined ? ` (default: ${f.default})` : ''}`;
    }),
  ].join('\n');
}
