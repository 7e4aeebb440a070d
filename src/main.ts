/**
 * Entry point in development and tests: `node --import tsx src/main.ts`.
 * Production runs the compiled form of the same start, `node dist/main.js`
 * (`npm run build`), which loads the bundle of src/start.ts.
 */
import { start } from './start.js';

await start();
