// CI: what `npm pack` ships from a clean clone: the built library with types, the CLI, the player's page and
// browser bundle, the demo model, and no tests or fixtures. Reads `npm pack --dry-run --json` on stdin.
const [pack] = JSON.parse(await new Response(process.stdin).text());
const files = new Set(pack.files.map((f) => f.path));
const need = [
  'dist/index.js',
  'dist/index.d.ts',
  'dist/app/cli.js',
  'dist/web/browser.js',
  'app/web/index.html',
  'app/web/player.js',
  'README.md',
  'demo/config.json',
  'demo/neuralos-demo.safetensors',
];
const missing = need.filter((f) => !files.has(f));
const stray = [...files].filter((f) => /^(test|dist\/test)\/|fixtures|\.test\./.test(f));
if (missing.length || stray.length) {
  const shipped = stray.slice(0, 5).join(', ') || 'nothing';
  console.error(`npm pack: missing ${missing.join(', ') || 'nothing'}; should not ship ${shipped}`);
  process.exit(1);
}
const mib = (pack.size / 2 ** 20).toFixed(1);
console.log(
  `npm pack: ${files.size} files, ${mib} MiB packed; dist, types, CLI, player and demo model present, no tests`,
);
