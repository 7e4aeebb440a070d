/**
 * A node:test reporter that writes how long each test file's tests took, as
 * JSON `{ "test/x.test.ts": ms }`; scripts/test.mjs uses it to start the
 * longest files first next time.
 */
import { relative } from 'node:path';

export default async function* durationsReporter(source) {
  const perFile = {};
  for await (const event of source) {
    if ((event.type === 'test:pass' || event.type === 'test:fail') && event.data.nesting === 0 && event.data.file) {
      const file = relative(process.cwd(), event.data.file);
      perFile[file] = Math.round((perFile[file] ?? 0) + (event.data.details?.duration_ms ?? 0));
    }
  }
  yield `${JSON.stringify(perFile)}\n`;
}
