// The command line: every command's flags come from one table, unknown flags and bad values are one-line usage
// errors (exit 2) before anything loads, help is generated, and an events file is checked event by event.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { UsageError, commands, helpText, parseCommandLine } from '../../app/args.js';
import { demoFiles, loadModel, readEvents } from '../../app/neuralos.js';
import { tinyConfig } from '../../models/neuralos/config.js';

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
        { x: 63, y: 0, is_left_click: true, keys_down: ['a'], is_auto_input: false },
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
      ['[3]', 'event 0: expected an object'],
      ['[{"x": 1,', 'JSON'],
    ];
    for (const [i, [text, message]] of bad.entries()) {
      const f = file(`bad${i}.json`, text);
      expect(() => readEvents(f, screen), text).toThrow(`--events ${f}: `);
      expect(() => readEvents(f, screen), text).toThrow(message);
    }
  });

  test('which model: the demo by default, --random the tiny random one, one source at a time', async () => {
    expect(parse('--random').flags.random).toBe(true);
    await expect(loadModel({ random: true, checkpoint: 'w.safetensors' }, 'cpu')).rejects.toThrow(
      'neuralos: pass one of --model, --checkpoint or --random, not --checkpoint and --random',
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
