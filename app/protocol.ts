// The player's wire format. Client → server: JSON in the reference demo's message format (input events)
// or a control message. Server → client: JSON for settings/errors, binary for frames (24-byte header + RGB).
import { stepsProblem } from '../models/neuralos/ddim.js';
import { KEYS, keyIndex } from '../models/neuralos/keys.js';
import type { NeuralOSEvent } from '../models/neuralos/neuralos.js';

export type ClientMessage =
  | { readonly kind: 'input'; readonly event: NeuralOSEvent }
  | { readonly kind: 'reset' }
  | { readonly kind: 'steps'; readonly steps: number }
  | { readonly kind: 'settings' }
  | { readonly kind: 'heartbeat' };

export const MAX_MESSAGE_BYTES = 4096;
const MAX_KEYS = 16;

/** Parses and validates one client message; throws an Error whose message the client is shown. */
export function parseMessage(raw: string, screen: { width: number; height: number }): ClientMessage {
  if (raw.length > MAX_MESSAGE_BYTES)
    throw new Error(`message too large: ${raw.length} bytes (max ${MAX_MESSAGE_BYTES})`);
  let m: unknown;
  try {
    m = JSON.parse(raw);
  } catch (e) {
    throw new Error(`malformed JSON: ${(e as Error).message}`);
  }
  if (typeof m !== 'object' || m === null || Array.isArray(m)) throw new Error('expected a JSON object');
  const o = m as Record<string, unknown>;
  switch (o.type) {
    case 'reset':
      return { kind: 'reset' };
    case 'get_settings':
      return { kind: 'settings' };
    case 'heartbeat':
      return { kind: 'heartbeat' };
    case 'update_sampling_steps': {
      if (!Number.isInteger(o.steps) || (o.steps as number) < 1 || (o.steps as number) > 32)
        throw new Error(`update_sampling_steps: steps must be an integer in [1, 32], got ${JSON.stringify(o.steps)}`);
      const problem = stepsProblem(o.steps as number);
      if (problem) throw new Error(`update_sampling_steps: ${problem}`);
      return { kind: 'steps', steps: o.steps as number };
    }
    case undefined:
      return { kind: 'input', event: parseEvent(o, screen) };
    default:
      throw new Error(`unknown message type ${JSON.stringify(o.type)}`);
  }
}

/**
 * One input event in the reference format, validated (the player's messages and `neuralos --events` files). strict
 * (a file): unknown fields, key names outside the model's vocabulary and positions off the screen are errors, a typo or
 * another screen size. Not strict (the player): extra fields and unknown keys are ignored (a browser sends keys the
 * model has no entry for) and a position off the screen is clamped onto it, as the reference server does (a page sends
 * the raw pointer position, fractional or just past the edge).
 */
export function parseEvent(
  o: Record<string, unknown>,
  screen: { width: number; height: number },
  strict = false,
): NeuralOSEvent {
  const known = [
    'x',
    'y',
    'is_left_click',
    'is_right_click',
    'keys_down',
    'keys_up',
    'wheel_delta_x',
    'wheel_delta_y',
    'is_auto_input', // the reference page marks the moves it repeats while idle; its logs keep the field
    'type',
  ];
  const unknown = Object.keys(o).find((k) => !known.includes(k));
  if (strict && unknown !== undefined)
    throw new Error(`unknown field ${JSON.stringify(unknown)} (fields: ${known.slice(0, -1).join(', ')})`);
  const num = (k: string, max: number): number => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || (strict && (v < 0 || v > max)))
      throw new Error(`${k} must be a number in [0, ${max}], got ${JSON.stringify(v)}`);
    return Math.min(max, Math.max(0, v));
  };
  const bool = (k: string): boolean => {
    if (o[k] === undefined) return false;
    if (typeof o[k] !== 'boolean') throw new Error(`${k} must be a boolean, got ${JSON.stringify(o[k])}`);
    return o[k] as boolean;
  };
  const keys = (k: string): string[] => {
    const v = o[k] ?? [];
    if (
      !Array.isArray(v) ||
      v.length > MAX_KEYS ||
      !v.every((s) => typeof s === 'string' && s.length > 0 && s.length <= 32)
    ) {
      throw new Error(`${k} must be a list of at most ${MAX_KEYS} key names`);
    }
    const unknownKey = strict ? (v as string[]).find((s) => keyIndex(s) === undefined) : undefined;
    if (unknownKey !== undefined)
      throw new Error(
        `${k}: unknown key ${JSON.stringify(unknownKey)} (the model's ${KEYS.length} keys are listed in ` +
          "models/neuralos/keys.ts; browser names such as 'Enter', 'ArrowUp', 'Control' are taken too)",
      );
    return v as string[];
  };
  const wheel = (k: string): number => {
    const v = o[k] ?? 0;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${k} must be a finite number`);
    return v;
  };
  bool('is_auto_input'); // checked, not used: an idle repeat is a move like any other
  return {
    x: num('x', screen.width - 1),
    y: num('y', screen.height - 1),
    is_left_click: bool('is_left_click'),
    is_right_click: bool('is_right_click'),
    keys_down: keys('keys_down'),
    keys_up: keys('keys_up'),
    wheel_delta_x: wheel('wheel_delta_x'),
    wheel_delta_y: wheel('wheel_delta_y'),
  };
}

export const FRAME_HEADER_BYTES = 24;

export interface EncodedFrame {
  readonly image: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly ms: { readonly state: number; readonly unet: number; readonly decode: number };
}

/**
 * [u32 width, u32 height, u32 frame, f32 ms state, f32 ms unet, f32 ms decode] + RGB bytes, then, where the server
 * simulates the desktop the model learned (the demo model), the simulator's true frame: as many RGB bytes again.
 */

export function encodeFrame(f: EncodedFrame, n: number, truth?: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_BYTES + f.image.length * (truth ? 2 : 1)),
    dv = new DataView(out.buffer);
  dv.setUint32(0, f.width, true);
  dv.setUint32(4, f.height, true);
  dv.setUint32(8, n, true);
  dv.setFloat32(12, f.ms.state, true);
  dv.setFloat32(16, f.ms.unet, true);
  dv.setFloat32(20, f.ms.decode, true);
  out.set(f.image, FRAME_HEADER_BYTES);
  if (truth) out.set(truth, FRAME_HEADER_BYTES + f.image.length);
  return out;
}
