/** Small checks the embedded mode's supervisor makes before touching files and processes. */
import { access } from 'node:fs/promises';

/** True when a process with this pid runs (one of another user counts: kill says EPERM). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
