// Records which sources the committed build was made from, so the Python suite can tell a
// stale build (tests/e2e/test_labextension_ts.py computes the same digest).
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';

const files = [
  'package.json',
  'tsconfig.json',
  ...readdirSync('src').filter(f => f.endsWith('.ts')).map(f => `src/${f}`),
  ...readdirSync('style').map(f => `style/${f}`)
].sort();
const hash = createHash('sha256');
for (const file of files) {
  hash.update(`${file}\0`);
  hash.update(readFileSync(file));
  hash.update('\0');
}
writeFileSync('../ext/dockyard_jupyter/labextension/source.sha256', `${hash.digest('hex')}\n`);
