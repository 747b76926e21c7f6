// Builds dist/: the ESM bundle (dist/index.js), the IIFE bundle for <script> tags
// (dist/switchboard.iife.js, global `Switchboard`), both minified with source maps, and the type
// declarations (tsc, dist/types/).
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
rmSync(join(root, 'dist'), { recursive: true, force: true });
const common = {
  entryPoints: [join(root, 'src/index.ts')],
  bundle: true,
  minify: true,
  sourcemap: true,
  target: 'es2020',
  legalComments: 'none',
  logLevel: 'warning',
};
await esbuild.build({ ...common, format: 'esm', outfile: join(root, 'dist/index.js') });
await esbuild.build({ ...common, format: 'iife', globalName: 'Switchboard', outfile: join(root, 'dist/switchboard.iife.js') });
execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json')], {
  stdio: 'inherit',
});
console.log('build: dist/index.js, dist/switchboard.iife.js, dist/types/');
