/**
 * /readyz is on the public port (load balancers probe it there), so anyone
 * may call it: a flood of probes must cost Postgres and Redis about one
 * check a second, not one per probe (issue 23).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startGateway, type TestGateway } from '../helpers/stack.js';

describe('/readyz under a flood of probes', () => {
  let gw: TestGateway;
  let checks = 0;
  before(async () => {
    gw = await startGateway();
    // Every readiness check asks Postgres whether migrations are pending; count those statements.
    const query = gw.app.db.query.bind(gw.app.db) as (...args: unknown[]) => unknown;
    (gw.app.db as { query: unknown }).query = (...args: unknown[]) => {
      const text = typeof args[0] === 'string' ? args[0] : ((args[0] as { text?: string })?.text ?? '');
      if (text.includes('schema_migrations')) checks++;
      return query(...args);
    };
  });
  after(() => gw.close());

  it('answers 500 probes (200 at once, then 300 one after another) with about one check a second', async () => {
    const url = `http://127.0.0.1:${gw.app.port}/readyz`;
    const started = Date.now();
    const burst = await Promise.all(Array.from({ length: 200 }, () => fetch(url).then((r) => r.status)));
    for (let i = 0; i < 300; i++) assert.equal((await fetch(url)).status, 200);
    assert.deepEqual(new Set(burst), new Set([200]));
    const elapsedS = (Date.now() - started) / 1000;
    assert.ok(checks <= Math.ceil(elapsedS) + 1, `${checks} checks over ${elapsedS.toFixed(2)} s`);
  });
});
