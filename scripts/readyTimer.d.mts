/** Types of scripts/readyTimer.mjs (start to /readyz 200). */
import type { ChildProcess } from 'node:child_process';

export declare const READY_CEILING: string;
export declare const MEASURED_GATEWAY_ENV: Readonly<Record<'NODE_ENV' | 'LOG_LEVEL' | 'HOST' | 'WORKERS', string>>;
export declare class NotReady extends Error {
  constructor(reason: string, output: string);
  output: string;
}
export declare function waitForReady(child: ChildProcess, port: number, options: { timeoutMs: number; intervalMs?: number; output?: () => string }): Promise<void>;
export declare function timeToReady(options: {
  args: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
  onSpawn?: (child: ChildProcess) => void;
}): Promise<{ ms: number; cpuMs: number | null }>;
