/** Reading a gateway's Prometheus metrics (its METRICS_PORT listener) in tests. */
import assert from 'node:assert/strict';

/**
 * One sample of `http://127.0.0.1:<port>/metrics` by its whole key (`name`, or
 * `name{label="value"}` as printed). Fails when the sample is absent, so a
 * renamed metric cannot read as 0.
 */
export async function metric(port: number, key: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${key} `));
  assert.ok(line, `${key} in /metrics`);
  return Number(line.slice(key.length + 1));
}
