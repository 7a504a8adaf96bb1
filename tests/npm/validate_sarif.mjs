// Microsoft's SARIF validator (`@microsoft/sarif-multitool validate`) over SARIF logs, for
// .ci/run. The multitool exits 0 whatever it finds, and says nothing at all about a log it could
// not deserialize (an unknown enum value, for example), so this script reads its output log:
// every input must have drawn at least one result (our logs always draw notes such as SARIF2003,
// proof that the file was read and checked), and any error-level result fails.
//
//   node validate_sarif.mjs FILE.sarif...
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { accessSync, chmodSync, constants, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const files = process.argv.slice(2).map((f) => resolve(f));
if (files.length === 0) {
  console.error('usage: node validate_sarif.mjs FILE.sarif...');
  process.exit(2);
}
// The package's main export is the path of the platform's native binary; calling it directly
// (not through its bin.js, which goes through a shell) keeps `;` in arguments intact.
const multitool = createRequire(import.meta.url)('@microsoft/sarif-multitool');
// Its postinstall only sets the execute bit, and npm may be set not to run install scripts.
try {
  accessSync(multitool, constants.X_OK);
} catch {
  chmodSync(multitool, 0o755);
}
let failed = false;
// One run per file: a log the multitool cannot read silences what it reports on the others.
for (const f of files) {
  const dir = mkdtempSync(join(tmpdir(), 'sarif-validate-'));
  const out = join(dir, 'validation.sarif');
  try {
    const run = spawnSync(
      multitool,
      ['validate', f, '--output', out, '--level', 'Error;Warning;Note'],
      { encoding: 'utf8' },
    );
    if (run.error || run.status !== 0) {
      console.error(run.stdout, run.stderr, run.error || `exit ${run.status}`);
      process.exit(1);
    }
    const log = JSON.parse(readFileSync(out, 'utf8'));
    const results = log.runs.flatMap((r) => r.results || []);
    const count = (level) => results.filter((r) => (r.level || 'warning') === level).length;
    console.log(`${f}: ${count('error')} error(s), ${count('warning')} warning(s), ${count('note')} note(s)`);
    if (results.length === 0) {
      console.log('  the validator reported nothing about this file: it could not read it');
      failed = true;
    }
    // Its console lines, in the order of the results, for errors and warnings.
    for (const line of run.stdout.split('\n')) {
      if (/: (error|warning) [A-Z]+[0-9]+: /.test(line)) console.log(`  ${line.trim()}`);
    }
    if (count('error') > 0) failed = true;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (failed) {
  console.error('SARIF validation failed');
  process.exit(1);
}
console.log(`SARIF validation: ${files.length} file(s) valid`);
