/**
 * Guest sessions for the benchmark: distinct users, each with one session and
 * its token, created over a few sockets that sent the bench's core.Initialize
 * first (so the session's stored device is what later reconnects send, as for
 * a real client whose device did not change).
 */
import { idFromWire } from '../../src/protocol/codec.js';
import { BENCH_DEVICE, BenchSocket } from './driver.js';

export interface BenchSession {
  token: string;
  sessionId: string;
}

export async function mintGuestSessions(url: string, count: number, sockets = 8, inFlight = 16): Promise<BenchSession[]> {
  const out: BenchSession[] = [];
  let issued = 0;
  await Promise.all(
    Array.from({ length: Math.min(sockets, Math.max(1, count)) }, async () => {
      const socket = await BenchSocket.open(url);
      try {
        const init = await socket.request({ core_initialize: BENCH_DEVICE });
        if (init.error) throw new Error(`core.Initialize failed: ${init.error.error_code} ${init.error.error_message}`);
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (issued < count) {
              issued++;
              const result = await socket.request({ auth_sign_up: { name: 'Bench Guest' } });
              const auth = result.authorization;
              if (!auth?.token) throw new Error(`guest sign-up failed: ${result.error?.error_code} ${result.error?.error_message}`);
              out.push({ token: auth.token, sessionId: idFromWire(auth.session_id) });
            }
          }),
        );
      } finally {
        socket.terminate();
      }
    }),
  );
  return out;
}
