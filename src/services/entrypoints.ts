/** The gateway addresses core.Initialize hands to clients. */
import type { EntrypointSetting } from '../config.js';

export class Entrypoints {
  private readonly configured: EntrypointSetting[] | null;
  private readonly port: number;

  constructor(deps: {
    /** ENTRYPOINTS; null: answer with the host the client reached. */
    configured: EntrypointSetting[] | null;
    /** PORT, for a Host header without a port. */
    port: number;
  }) {
    ({ configured: this.configured, port: this.port } = deps);
  }

  /** The configured entrypoints, or this gateway as the client reached it (its Host header). */
  forHost(hostHeader: string | undefined): EntrypointSetting[] {
    if (this.configured) return this.configured;
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader ?? '');
    return [{ hostname: match?.[1] ?? 'localhost', port: match?.[2] ? Number(match[2]) : this.port, region: 0 }];
  }
}
