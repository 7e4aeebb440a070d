/**
 * Kept only for test/events/eventTypes.test.ts (on main, owned by another
 * branch), which imports the TOTP helpers from here: they live in
 * accounts.ts now. Delete this file once that test imports accounts.ts.
 */
export { ageSignIns, awayFromStepBoundary, codeAt, newTotpKey, STRONG_PASSWORD, totpOf } from './accounts.js';
