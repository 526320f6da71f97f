// Lint: no source line past 120 characters. Biome formats code to that width but leaves long strings and comments
// as they are; this catches those. Lists every offender as file:line and fails.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const max = 120;
const files = execFileSync('git', ['ls-files', '*.ts', '*.mjs', '*.js'], { encoding: 'utf8' })
  .split('\n')
  .filter((f) => f && !/^(test\/fixtures|demo)\/|^app\/web\/player\.js$/.test(f));
const long = files.flatMap((f) =>
  readFileSync(f, 'utf8')
    .split('\n')
    .flatMap((line, i) => ([...line].length > max ? [`${f}:${i + 1}: ${[...line].length} characters`] : [])),
);
if (long.length) {
  console.error(`lines longer than ${max} characters:\n${long.join('\n')}`);
  process.exit(1);
}
console.log(`line length: ${files.length} files, none past ${max} characters`);
