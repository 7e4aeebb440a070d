/** The gateway addresses core.Initialize hands to clients. */
import type { EntrypointSetting } from '../config.js';

export class Entrypoints {
  constructor(
    /** ENTRYPOINTS; null: answer with the host the client reached. */
    private readonly configured: EntrypointSetting[] | null,
    /** PORT, for a Host header without a port. */
    private readonly port: number,
  ) {}

  /** The configured entrypoints, or this gateway as the client reached it (its Host header). */
  forHost(hostHeader: string | undefined): EntrypointSetting[] {
    if (this.configured) return this.configured;
    const match = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostHeader ?? '');
    return [{ hostname: match?.[1] ?? 'localhost', port: match?.[2] ? Number(match[2]) : this.port, region: 0 }];
  }
}
