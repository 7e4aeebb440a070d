/**
 * The password strength checker's own thread (passwordStrength.ts starts
 * it): zxcvbn with the common-password and diceware lists. Building the
 * dictionaries takes ~120 ms of CPU and each check 2-15 ms; here neither
 * holds up the event loop that serves the sockets.
 *
 * Plain JavaScript, so that a thread loads it as it is, from the sources as
 * from the build (scripts/build.mjs copies it beside the gateway's bundle),
 * with zxcvbn from node_modules. Asked `{ id, password, userInputs }`, it
 * answers `{ id, verdict: { score, warning, evaluated } }` or `{ id, error }`
 * (the types are in passwordStrength.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import { adjacencyGraphs, dictionary } from '@zxcvbn-ts/language-common';

const { maxLength, l33tMaxSubstitutions } = workerData;
const zxcvbn = new ZxcvbnFactory({ dictionary: { ...dictionary }, graphs: adjacencyGraphs, maxLength, l33tMaxSubstitutions });

parentPort.on('message', ({ id, password, userInputs }) => {
  let answer;
  try {
    const result = zxcvbn.check(password, userInputs);
    answer = { id, verdict: { score: result.score, warning: result.feedback.warning || null, evaluated: result.password.length } };
  } catch (err) {
    answer = { id, error: String(err?.message ?? err) };
  }
  parentPort.postMessage(answer);
});
