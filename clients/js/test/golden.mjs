// The golden vectors: every example of docs/protocol.md section 4 (real output of the Rust encoder,
// checked by protocol/tests/app_examples.rs), as { name, binary: Uint8Array, json: string }.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '../../..');

export function goldenExamples() {
  const text = readFileSync(join(repoRoot, 'docs/protocol.md'), 'utf8');
  const examples = [];
  const pattern = /<!-- example: (\w+) -->([\s\S]*?)<!-- \/example -->/g;
  for (const match of text.matchAll(pattern)) {
    const [, name, block] = match;
    const hex = /```text\n([\s\S]*?)```/.exec(block)[1].replace(/\s+/g, '');
    const json = /```json\n([\s\S]*?)```/.exec(block)[1].trim();
    examples.push({ name, binary: Uint8Array.from(hex.match(/../g).map((b) => parseInt(b, 16))), json });
  }
  return examples;
}
