// The command line: every command's flags come from one table, unknown flags, stray arguments and bad values are
// one-line usage errors (exit 2) before anything loads, every error line starts `polygrad <command>:`, help is
// generated, an events file is checked event by event, and progress is plain lines where stdout is not a terminal.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { UsageError, commands, helpText, parseCommandLine } from '../../app/args.js';
import { run } from '../../app/cli.js';
import { chooseModel, demoFiles, loadModel, progressLine, readEvents } from '../../app/neuralos.js';
import { parseMessage } from '../../app/protocol.js';
import { fullConfig, tinyConfig } from '../../models/neuralos/config.js';
import { devices, initDevices } from '../../index.js';

const parse = (line: string) => parseCommandLine(line.split(' ').filter(Boolean));

describe('polygrad command line', () => {
  test('commands, positionals, flags and defaults', () => {
    expect(parse('')).toMatchObject({
      command: 'play',
      flags: { host: '127.0.0.1', port: '8080', 'max-clients': '4' },
      help: false,
    });
    expect(parse('--port 9000 --checkpoint w.safetensors').flags).toMatchObject({
      port: '9000',
      checkpoint: 'w.safetensors',
    });
    expect(parse('neuralos --events e.json --steps 2')).toMatchObject({
      command: 'neuralos',
      flags: { events: 'e.json', steps: '2', frames: 'frames' },
    });
    expect(parse('convert in.ckpt out.safetensors --f16')).toMatchObject({
      command: 'convert',
      positional: ['in.ckpt', 'out.safetensors'],
      flags: { f16: true },
    });
    expect(parse('profile neuralos --frames=3').flags.frames).toBe('3');
    expect(parse('--version').flags.version).toBe(true);
  });

  test('unknown flags, misspelt flags and bad values are usage errors naming the flag', () => {
    const cases: [string, string][] = [
      [
        'neuralos --event x.json',
        "polygrad neuralos: unknown flag '--event' (polygrad neuralos --help lists the flags)",
      ],
      [
        'neuralos --checkpiont w.ckpt',
        "polygrad neuralos: unknown flag '--checkpiont' (polygrad neuralos --help lists the flags)",
      ],
      ['--port abc', "polygrad play: --port must be an integer in [0, 65535], got 'abc'"],
      ['--port 70000', "polygrad play: --port must be an integer in [0, 65535], got '70000'"],
      ['neuralos --steps 2.5', "polygrad neuralos: --steps must be an integer in [1, 999], got '2.5'"],
      ['profile neuralos --frames abc', "polygrad profile: --frames must be an integer in [1, 10000], got 'abc'"],
      ['tune neuralos --budget=-1', "polygrad tune: --budget must be a positive number, got '-1'"],
      ['tune neuralos --budget -1', "polygrad tune: --budget must be a positive number, got '-1'"],
      [
        'plan neuralos --memory -5GB',
        "polygrad plan: --memory must be a size in bytes such as 8GB, 24GiB or 1e9, got '-5GB'",
      ],
      [
        'plan neuralos --memory lots',
        "polygrad plan: --memory must be a size in bytes such as 8GB, 24GiB or 1e9, got 'lots'",
      ],
      ['neuralos --device tpu', "polygrad neuralos: --device must be one of cpu, webgpu, cuda, got 'tpu'"],
      ['play extra positional --random', "polygrad play: unexpected argument 'extra' (usage: polygrad [play] [flags])"],
      ['devices extra', "polygrad devices: unexpected argument 'extra' (usage: polygrad devices)"],
      ['plan foo', "polygrad plan: unknown model 'foo' (neuralos; usage: polygrad plan neuralos [flags])"],
      ['profile foo', "polygrad profile: unknown model 'foo' (neuralos; usage: polygrad profile neuralos [flags])"],
      ['plan', 'polygrad plan: missing the model (neuralos; usage: polygrad plan neuralos [flags])'],
      ['plan neuralos more', "polygrad plan: unexpected argument 'more' (usage: polygrad plan neuralos [flags])"],
      [
        'kernels',
        'polygrad kernels: missing the subcommand (list, check, bench, new; usage: polygrad kernels list | check ' +
          '[name] | bench [name] | new <name> --op <op>)',
      ],
      [
        'convert in.ckpt',
        'polygrad convert: expected 2 arguments, got 1 (usage: polygrad convert IN OUT.safetensors [--f16])',
      ],
      [
        'help bogus',
        "polygrad help: unknown command 'bogus' (commands: play, devices, neuralos, profile, tune, plan, kernels, " +
          'convert, pull, help)',
      ],
      ['tune neuralos --budget 0', "polygrad tune: --budget must be a positive number, got '0'"],
      ['plan neuralos --dtype f64', "polygrad plan: --dtype must be one of f32, f16, bf16, got 'f64'"],
      [
        'devices --device webgpu',
        "polygrad devices: unknown flag '--device' (polygrad devices --help lists the flags)",
      ],
      [
        'serve',
        "polygrad: unknown command 'serve' (commands: play, devices, neuralos, profile, tune, plan, kernels, " +
          'convert, pull, help; polygrad help)',
      ],
    ];
    for (const [line, message] of cases) {
      let error: unknown;
      try {
        parse(line);
      } catch (e) {
        error = e;
      }
      expect(error, line).toBeInstanceOf(UsageError);
      expect((error as Error).message, line).toBe(message);
    }
    expect(() => parse('neuralos --steps')).toThrow(/^polygrad neuralos: Option '--steps <value>' argument missing/);
    // a value that merely starts with a dash is still one line
    expect(() => parse('plan neuralos --limits -x')).toThrow(
      /^polygrad plan: Option '--limits' argument is ambiguous \(polygrad plan --help lists the flags\)$/,
    );
  });

  test('help lists every command, and each command its flags with defaults', () => {
    for (const line of ['help', '--help', '-h']) expect(parse(line)).toMatchObject({ command: 'help', help: true });
    expect(parse('neuralos --help')).toMatchObject({ command: 'neuralos', help: true });
    const all = helpText();
    for (const c of Object.keys(commands)) expect(all).toContain(`  ${c}`);
    const neuralos = helpText('neuralos');
    expect(neuralos).toMatch(/^usage: polygrad neuralos \[flags\]/);
    expect(neuralos).toMatch(/--steps\s+DDIM sampling steps \(default: 8\)/);
    expect(neuralos).toMatch(/--checkpoint\s+weights:/);
  });
});

describe('events files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-events-')),
    screen = { width: 64, height: 64 };
  const file = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  test('a good file reads as events; a bad one names the file, the event and the field', () => {
    const ok = file(
      'ok.json',
      JSON.stringify([
        { x: 1, y: 2 },
        { x: 63, y: 0, is_left_click: true, keys_down: ['a', 'Enter', 'ArrowUp'], is_auto_input: false },
      ]),
    );
    expect(readEvents(ok, screen).map((e) => [e.x, e.y, e.is_left_click])).toEqual([
      [1, 2, false],
      [63, 0, true],
    ]);
    const bad: [string, string][] = [
      ['{"x": 1}', 'expected a non-empty JSON list of events'],
      ['[{"x": 1, "y": 2}, {"x": "5", "y": 1}]', 'event 1: x must be a number in [0, 63], got "5"'],
      ['[{"x": 64, "y": 2}]', 'event 0: x must be a number in [0, 63], got 64'],
      ['[{"x": 1, "y": 2, "is_left_clik": true}]', 'event 0: unknown field "is_left_clik"'],
      ['[{"x": 1, "y": 2, "keys_down": "a"}]', 'event 0: keys_down must be a list of at most 16 key names'],
      ['[{"x": 1, "y": 2, "is_auto_input": 1}]', 'event 0: is_auto_input must be a boolean, got 1'],
      ['[{"x": 1, "y": 2, "keys_down": ["Entr"]}]', 'event 0: keys_down: unknown key "Entr" (the model\'s 179 keys'],
      ['[3]', 'event 0: expected an object'],
      ['[{"x": 1,', 'JSON'],
    ];
    for (const [i, [text, message]] of bad.entries()) {
      const f = file(`bad${i}.json`, text);
      expect(() => readEvents(f, screen), text).toThrow(`--events ${f}: `);
      expect(() => readEvents(f, screen), text).toThrow(message);
    }
  });

  test('the player ignores key names the model does not know (a browser sends many)', () => {
    const m = parseMessage('{"x": 1, "y": 2, "keys_down": ["Entr", "F13"]}', screen);
    expect(m).toMatchObject({ kind: 'input', event: { keys_down: ['Entr', 'F13'] } });
  });

  test('which model: the demo by default, --random the tiny random one, one source at a time', async () => {
    expect(parse('--random').flags.random).toBe(true);
    await expect(loadModel({ random: true, checkpoint: 'w.safetensors' }, 'cpu')).rejects.toThrow(
      'pass one of --model, --checkpoint or --random, not --checkpoint and --random',
    );
    const demo = await loadModel({}, 'cpu');
    expect(demoFiles).toBeDefined();
    expect([demo.kind, demo.model.cfg.screen, demo.model.report.problems]).toEqual([
      'demo',
      { width: 64, height: 48 },
      [],
    ]);
    const random = await loadModel({ random: true }, 'cpu');
    expect([random.kind, random.model.cfg]).toEqual(['random', tinyConfig]);
  }, 60_000);
});

describe('which weights the flags mean', () => {
  const choice = (flags: Record<string, string | boolean>) => {
    const { kind, config, steps } = chooseModel(flags);
    return { kind, config, steps };
  };
  test('the demo by default; a --config other than demo without weights means seeded random weights for it', () => {
    expect(choice({})).toEqual({ kind: 'demo', config: 'demo', steps: 8 });
    expect(choice({ config: 'demo' })).toEqual({ kind: 'demo', config: 'demo', steps: 8 });
    expect(choice({ config: 'tiny' })).toEqual({ kind: 'random', config: 'tiny', steps: 4 });
    expect(chooseModel({ config: 'full', steps: '2' })).toMatchObject({ kind: 'random', cfg: fullConfig, steps: 2 });
    expect(choice({ random: true })).toEqual({ kind: 'random', config: 'tiny', steps: 4 });
    const w = 'test/fixtures/neuralos/weights.safetensors';
    expect(choice({ checkpoint: w })).toEqual({ kind: 'checkpoint', config: 'full', steps: 16 });
    expect(choice({ checkpoint: w, config: 'tiny' })).toEqual({ kind: 'checkpoint', config: 'tiny', steps: 16 });
  });
  test('flag values that cannot work are usage errors naming the flag, before anything loads', () => {
    const bad: [Record<string, string | boolean>, string][] = [
      [{ checkpoint: '/nonexistent' }, '--checkpoint /nonexistent: no such file'],
      [{ model: 'bad' }, '--model bad: expected hf:<org>/<repo>[@revision]'],
      [{ config: 'nope' }, '--config nope: no such file (or use full, tiny or demo)'],
      [{ 'latent-stats': '/nonexistent' }, '--latent-stats /nonexistent: no such file'],
      [{ steps: '3' }, '--steps 3: 3 steps put the last DDIM timestep at 1000'],
    ];
    for (const [flags, message] of bad) {
      expect(() => chooseModel(flags), message).toThrow(UsageError);
      expect(() => chooseModel(flags), message).toThrow(message);
    }
  });
});

describe('polygrad exit statuses and error lines', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });
  /** The exit status of a command line and what it printed to stderr. */
  const status = async (line: string): Promise<[number, string]> => {
    const lines: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((m: unknown) => {
      lines.push(String(m));
    });
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const code = await run(line.split(' ').filter(Boolean));
    vi.restoreAllMocks();
    return [code, lines.join('\n')];
  };
  const dir = mkdtempSync(join(tmpdir(), 'polygrad-cli-'));

  test('bad values are exit 2 with one line `polygrad <command>: …`, before anything loads', async () => {
    const cases: [string, string][] = [
      [
        'plan neuralos --limits foo',
        'polygrad plan: --limits foo: neither a preset (webgpu-default, lavapipe, cuda) nor a JSON file',
      ],
      [
        'plan neuralos --memory lots',
        "polygrad plan: --memory must be a size in bytes such as 8GB, 24GiB or 1e9, got 'lots'",
      ],
      ['plan neuralos --config nope', 'polygrad plan: --config nope: no such file (or use full, tiny or demo)'],
      ['kernels', 'polygrad kernels: missing the subcommand (list, check, bench, new; usage: '],
      ['kernels list extra', "polygrad kernels: list takes no name, got 'extra'"],
      ['kernels check nosuch', 'polygrad kernels: no kernel named nosuch (have: '],
      ['pull bad', "polygrad pull: 'bad': expected hf:<org>/<repo>[@revision]"],
      ['convert /nonexistent out.safetensors', 'polygrad convert: IN /nonexistent: no such file'],
      [
        `convert configs/tiny.json ${dir}/no/out.safetensors`,
        `polygrad convert: OUT ${dir}/no/out.safetensors: no folder`,
      ],
      ['neuralos --checkpoint /nonexistent', 'polygrad neuralos: --checkpoint /nonexistent: no such file'],
      ['neuralos --events /nonexistent', 'polygrad neuralos: --events /nonexistent: no such file'],
      ['play --random --checkpoint x', 'polygrad play: pass one of --model, --checkpoint or --random, not'],
      ['help bogus', "polygrad help: unknown command 'bogus'"],
      ['tune neuralos --budget -1', "polygrad tune: --budget must be a positive number, got '-1'"],
    ];
    for (const [line, message] of cases) {
      const [code, err] = await status(line);
      expect([code, err.split('\n').length], line).toEqual([2, 1]);
      expect(err, line).toContain(message);
      expect(err.startsWith(message), line).toBe(true);
    }
  }, 60_000);

  test('a device that is not here is exit 2 with the reason its probe recorded', async () => {
    await initDevices();
    const missing = ['cuda', 'webgpu'].find((d) => !devices().some((b) => b.name === d));
    if (!missing) return; // both found: nothing to refuse here
    const [code, err] = await status(`neuralos --random --device ${missing}`);
    expect(code).toBe(2);
    expect(err).toMatch(new RegExp(`^polygrad neuralos: --device ${missing}: not available here: .+ \\(available: `));
  });

  test('help and --version are exit 0; a plan that does not fit is exit 1', async () => {
    expect((await status('help plan'))[0]).toBe(0);
    expect((await status('--version'))[0]).toBe(0);
    const limits = join(dir, 'limits.json');
    writeFileSync(limits, JSON.stringify({ target: 'wgsl', maxBuffers: 8, maxBufferBytes: 2 ** 20 }));
    expect(await status(`plan neuralos --config tiny --limits ${limits} --memory 1KB`)).toEqual([1, '']);
  }, 60_000);
});

describe('progress lines', () => {
  test('off a terminal: plain lines, at most one per interval, and always the last', () => {
    const out = process.stdout as { isTTY?: boolean },
      was = out.isTTY;
    const lines: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((m: unknown) => {
      lines.push(String(m));
    });
    const write = vi.spyOn(process.stdout, 'write');
    try {
      out.isTTY = false;
      const p = progressLine(60_000);
      for (let i = 1; i <= 100; i++) p.update(`[#] ${i}/100   `);
      p.end();
      expect(lines).toEqual(['[#] 1/100', '[#] 100/100']);
      expect(write).not.toHaveBeenCalled();
    } finally {
      out.isTTY = was;
      log.mockRestore();
      write.mockRestore();
    }
  });
});
