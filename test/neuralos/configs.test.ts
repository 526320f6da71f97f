// The example configs shipped in configs/ are the built-in ones: --config configs/full.json, configs/tiny.json or the
// reference-layout configs/neuralos-demo.yaml (no scale_factor, as the demo's own file) give the same model.
import { describe, expect, test } from 'vitest';
import { configNamed } from '../../app/neuralos.js';
import { fullConfig, tinyConfig } from '../../models/neuralos/config.js';

describe('shipped configs', () => {
  test('configs/*.json and the demo-layout YAML equal the built-in configs', () => {
    expect(configNamed('configs/full.json')).toEqual(fullConfig);
    expect(configNamed('configs/tiny.json')).toEqual(tinyConfig);
    expect(configNamed('configs/neuralos-demo.yaml')).toEqual(fullConfig);
  });
});
