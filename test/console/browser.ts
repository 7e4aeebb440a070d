/**
 * Helpers of the browser tests: the console bundle built once per test
 * process (as `npm test` does before it starts), headless Debian Chromium,
 * and the sign-in form driven as a person would, by accessible names.
 */
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { browserBundleStale, buildBrowser } from '../../scripts/buildBrowser.mjs';
import { launchChromium } from '../../scripts/chromium.mjs';

let built: Promise<unknown> | undefined;
/**
 * Builds dist/browser/ when a source is newer than it (once per process), so
 * a test file run alone serves the current sources. Only then: a rebuild
 * empties the folder first, and other browser test files running at the same
 * time would be served 503 meanwhile (`npm test` builds before any file runs).
 */
export function buildConsole(): Promise<unknown> {
  built ??= browserBundleStale() ? buildBrowser() : Promise.resolve();
  return built;
}

export { launchChromium };

const pageErrors = new WeakMap<Page, Error[]>();
/** Uncaught errors of the page's scripts so far (tests assert there are none). */
export function errorsOf(page: Page): Error[] {
  return pageErrors.get(page) ?? [];
}
export type { Browser, Page };

/** Opens the console of a gateway (ws://host:port) in a new browser context and waits until its socket is ready. */
export async function openConsole(browser: Browser, gatewayUrl: string, context?: BrowserContext): Promise<Page> {
  const page = await (context ?? (await browser.newContext({ viewport: { width: 1280, height: 900 } }))).newPage();
  const errors: Error[] = [];
  pageErrors.set(page, errors);
  page.on('pageerror', (err) => errors.push(err));
  await page.goto(`${gatewayUrl.replace(/^ws/, 'http')}/console`);
  await page.getByRole('status').filter({ hasText: 'Connected to' }).waitFor();
  return page;
}

export function authForm(page: Page) {
  return page.getByRole('form', { name: 'Sign in or sign up' });
}

export async function signUp(page: Page, account: { email: string; password: string; name: string }): Promise<void> {
  const form = authForm(page);
  await form.getByLabel('Email').fill(account.email);
  await form.getByLabel('Password').fill(account.password);
  await form.getByLabel('Name').fill(account.name);
  await form.getByRole('button', { name: 'Sign up' }).click();
  await sessionsTable(page).waitFor();
}

export async function signIn(page: Page, account: { email: string; password: string }): Promise<void> {
  const form = authForm(page);
  await form.getByLabel('Email').fill(account.email);
  await form.getByLabel('Password').fill(account.password);
  await form.getByRole('button', { name: 'Sign in' }).click();
  await sessionsTable(page).waitFor();
}

export function sessionsTable(page: Page) {
  return page.getByRole('table', { name: 'Sessions' });
}

/** Session rows (the header row left out). */
export function sessionRows(page: Page) {
  return sessionsTable(page).getByRole('row').filter({ has: page.getByRole('cell') });
}

export function logPanel(page: Page) {
  return page.getByRole('region', { name: 'Log' });
}
