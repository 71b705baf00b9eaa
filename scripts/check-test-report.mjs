// Reads vitest's JSON report: fails when a test failed, was skipped or none ran; prints the closing count line.
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const skipped = [];
for (const file of report.testResults ?? []) {
  for (const test of file.assertionResults ?? []) {
    if (test.status === 'skipped' || test.status === 'pending' || test.status === 'todo') {
      skipped.push(`${file.name.replace(process.cwd() + '/', '')} > ${test.fullName}`);
    }
  }
}
const passed = report.numPassedTests ?? 0;
// A file that failed with no failed test (an import error, a hook that threw) counts once.
const brokenFiles = (report.testResults ?? []).filter(
  (file) => file.status === 'failed' && !(file.assertionResults ?? []).some((test) => test.status === 'failed'),
).length;
const failed = (report.numFailedTests ?? 0) + brokenFiles;
for (const name of skipped) console.error(`skipped: ${name}`);
if (skipped.length > 0) console.error('A suite was skipped: every e2e suite must run (see scripts/provision-e2e.sh).');
console.log(`Tests: ${passed} passed, ${failed} failed, ${skipped.length} skipped`);
process.exit(failed > 0 || skipped.length > 0 || passed === 0 ? 1 : 0);
