// Prints the bundles' sizes (raw and gzipped) and fails when a gzipped size is over the budget.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The core budget: the whole SDK, gzipped (issue 17). */
const BUDGET_GZIP_BYTES = 15 * 1024;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let over = false;
for (const file of ['dist/index.js', 'dist/switchboard.iife.js']) {
  const bytes = readFileSync(join(root, file));
  const gzipped = gzipSync(bytes, { level: 9 }).length;
  const verdict = gzipped <= BUDGET_GZIP_BYTES ? 'ok' : 'OVER BUDGET';
  if (gzipped > BUDGET_GZIP_BYTES) over = true;
  console.log(`size: ${file}: ${bytes.length} B raw, ${gzipped} B gzipped (budget ${BUDGET_GZIP_BYTES} B): ${verdict}`);
}
if (over) {
  console.error('size: a bundle is over the gzipped budget');
  process.exit(1);
}
