/// <reference lib="dom" />
/**
 * The web console (GET /console): every auth flow of the gateway in one page,
 * over the same WebSocket protocol any client speaks, through the
 * ReconnectingClient. No framework: the page is index.html, this script
 * fills it. Bundled by scripts/buildBrowser.mjs into dist/browser/console.js.
 */
import { ReconnectingClient, type ClientState } from '../client/reconnectingClient.js';
import { RpcCallError, type Frame } from '../client/client.js';
import { DISPLAY_OPTIONS, type PlainAuthorization, type PlainResult } from '../client/plain.js';
import { osmium } from '../gen/osmium.js';

const TOKEN_KEY = 'osmium.console.token';
const EMAIL_KEY = 'osmium.console.email';
/** Log entries kept on the page. */
const LOG_LIMIT = 500;
const SESSIONS_REFRESH_MS = 15_000;
const CONSOLE_VERSION = '0.1.0';

const $ = <T extends HTMLElement = HTMLElement>(selector: string, root: ParentNode = document): T => {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`console page lacks ${selector}`);
  return element;
};

/** Browser and platform in a few words, e.g. "Chrome 156 on Linux". */
function browserName(): string {
  const ua = navigator.userAgent;
  const browsers: Array<[string, RegExp]> = [['Edge', /Edg\/(\d+)/], ['Firefox', /Firefox\/(\d+)/], ['Chrome', /Chrom(?:e|ium)\/(\d+)/], ['Safari', /Version\/(\d+).*Safari/]];
  const found = browsers.map(([name, re]) => [name, re.exec(ua)?.[1]] as const).find(([, version]) => version);
  const browser = found ? `${found[0]} ${found[1]}` : 'Browser';
  const platforms: Array<[string, RegExp]> = [['Android', /Android/], ['iOS', /iPhone|iPad/], ['Windows', /Windows/], ['macOS', /Mac OS X/], ['Linux', /Linux/]];
  const platform = platforms.find(([, re]) => re.test(ua))?.[0];
  return platform ? `${browser} on ${platform}` : browser;
}

const gatewayUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/`;
const client = new ReconnectingClient({
  url: gatewayUrl,
  token: localStorage.getItem(TOKEN_KEY),
  device: { client_id: 0, device_type: 'browser', device_version: browserName(), app_version: `console ${CONSOLE_VERSION}` },
});

// ---- small view helpers ----

function say(target: HTMLElement, text: string, kind: 'ok' | 'error' | '' = ''): void {
  target.textContent = text;
  target.className = `message ${kind}`.trim();
}

function errorText(err: unknown): string {
  if (err instanceof RpcCallError) return `${err.code}: ${err.message.replace(/^\d+: /, '')}`;
  return err instanceof Error ? err.message : String(err);
}

/** Runs an action with the form's buttons disabled; its error lands in the form's message line. */
async function busy(form: HTMLElement, message: HTMLElement, action: () => Promise<void>): Promise<void> {
  const buttons = [...form.querySelectorAll('button')];
  for (const b of buttons) b.disabled = true;
  try {
    await action();
  } catch (err) {
    say(message, errorText(err), 'error');
  } finally {
    for (const b of buttons) b.disabled = false;
  }
}

function field(form: HTMLFormElement, name: string): HTMLInputElement {
  return form.elements.namedItem(name) as HTMLInputElement;
}

const relativeTime = new Intl.RelativeTimeFormat('en', { numeric: 'always' });
function ago(ms: number): string {
  const seconds = Math.round((ms - Date.now()) / 1000);
  if (Math.abs(seconds) < 45) return 'just now';
  for (const [unit, size] of [['day', 86_400], ['hour', 3_600], ['minute', 60]] as const) {
    if (Math.abs(seconds) >= size) return relativeTime.format(Math.round(seconds / size), unit);
  }
  return relativeTime.format(seconds, 'second');
}

function cell(row: HTMLTableRowElement, text: string, sub?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.append(text);
  if (sub) {
    const span = document.createElement('span');
    span.className = 'sub';
    span.textContent = sub;
    td.append(span);
  }
  return td;
}

function button(text: string, className: string, onClick: () => void, label?: string): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = text;
  b.className = className;
  if (label) b.setAttribute('aria-label', label);
  b.addEventListener('click', onClick);
  return b;
}

// ---- connection status and signed-in state ----

const connection = $('#connection');
const notice = $('#notice');
const STATE_TEXT: Record<ClientState, string> = {
  idle: 'Not connected',
  connecting: 'Connecting…',
  handshaking: 'Connected, initializing…',
  ready: `Connected to ${gatewayUrl}`,
  waiting: 'Disconnected, reconnecting…',
  stopped: 'Disconnected',
};
client.on('state', (state) => {
  connection.textContent = STATE_TEXT[state];
  connection.dataset.state = state;
});

let signedIn: PlainAuthorization | null = null;
/** Set while this page signs itself out, so the end of the session is not reported as a revocation. */
let signingOut = false;
let sessionsTimer: ReturnType<typeof setInterval> | undefined;

function showSignedIn(authorization: PlainAuthorization): void {
  signedIn = authorization;
  notice.hidden = true;
  $('#signed-out').hidden = true;
  $('#signed-in').hidden = false;
  $('#verify').hidden = false;
  $('#invites-signed-in').hidden = false;
  $('#dev-mail').hidden = !mailView;
  $('#user-name').textContent = authorization.user?.name ?? '';
  $('#user-id').textContent = authorization.user?.id ?? '';
  $('#session-id').textContent = authorization.session_id ?? '';
  const email = localStorage.getItem(EMAIL_KEY) ?? '';
  for (const form of [verifyForm, resetForm]) if (!field(form, 'email').value) field(form, 'email').value = email;
  void loadSessions();
  void listInvites();
  clearInterval(sessionsTimer);
  sessionsTimer = setInterval(() => void loadSessions(), SESSIONS_REFRESH_MS);
}

function showSignedOut(): void {
  signedIn = null;
  clearInterval(sessionsTimer);
  $('#signed-out').hidden = false;
  $('#signed-in').hidden = true;
  $('#verify').hidden = true;
  $('#invites-signed-in').hidden = true;
  $('#dev-mail').hidden = true;
  $('#mail').hidden = true;
  $('tbody', sessionsTable).replaceChildren();
  $('tbody', inviteTable).replaceChildren();
}

client.on('authorized', (authorization) => {
  if (authorization.token) localStorage.setItem(TOKEN_KEY, authorization.token);
  showSignedIn(authorization);
});
client.on('ready', ({ authorization }) => {
  if (!authorization && !client.token) showSignedOut();
});
client.on('sessionDeleted', ({ via }) => {
  localStorage.removeItem(TOKEN_KEY);
  const wasSignedIn = signedIn !== null;
  showSignedOut();
  notice.textContent =
    signingOut ? 'Signed out.'
    : via === 'authorize' ? 'Your saved session has ended. Sign in again.'
    : wasSignedIn ? 'This session was signed out (revoked from another device, or the password was reset). Sign in again.'
    : 'Signed out.';
  signingOut = false;
  notice.hidden = false;
});

// ---- sign in / sign up (with TOTP when the gateway asks for it) ----

const authForm = $<HTMLFormElement>('#auth-form');
const authMessage = $('.message', authForm);
authForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'sign-in';
  const email = field(authForm, 'email').value.trim();
  const password = field(authForm, 'password').value;
  const name = field(authForm, 'name').value.trim();
  const totp = field(authForm, 'totp').value.trim();
  void busy(authForm, authMessage, async () => {
    say(authMessage, action === 'sign-up' ? 'Signing up…' : 'Signing in…');
    // Remembered before the call: the signed-in view (shown on `authorized`) prefills it.
    if (email) localStorage.setItem(EMAIL_KEY, email);
    try {
      if (action === 'sign-up') {
        await client.signUp({ name, ...(email ? { email } : {}), ...(password ? { password } : {}) });
      } else {
        await client.signIn({ email, password, ...(totp ? { totp } : {}) });
      }
    } catch (err) {
      if (err instanceof RpcCallError && err.code === 401 && /totp required/i.test(err.message)) {
        $('#totp-row').hidden = false;
        field(authForm, 'totp').focus();
        say(authMessage, 'This account has two-factor sign-in: enter the code from your authenticator app (or a backup code).', 'error');
        return;
      }
      if (err instanceof RpcCallError && /invalid totp/i.test(err.message)) {
        $('#totp-row').hidden = false;
        say(authMessage, 'That TOTP code is wrong or was already used: try the next one.', 'error');
        return;
      }
      throw err;
    }
    field(authForm, 'password').value = '';
    field(authForm, 'totp').value = '';
    $('#totp-row').hidden = true;
    say(authMessage, '');
  });
});

// ---- sessions ----

const sessionsTable = $<HTMLTableElement>('#sessions');
const sessionsMessage = $('#sessions-message');
type SessionRow = NonNullable<NonNullable<PlainResult['sessions']>['sessions']>[number];

async function loadSessions(): Promise<void> {
  if (!signedIn) return;
  try {
    const result = await client.call('auth_get_sessions', {});
    renderSessions(result.sessions?.sessions ?? [], result.sessions?.current ?? '');
  } catch (err) {
    say(sessionsMessage, errorText(err), 'error');
  }
}

function renderSessions(sessions: SessionRow[], current: string): void {
  const body = $<HTMLTableSectionElement>('tbody', sessionsTable);
  body.replaceChildren();
  for (const session of sessions) {
    const row = body.insertRow();
    const id = session.id ?? '';
    const isCurrent = id === current;
    if (isCurrent) row.className = 'current';
    const device = [session.device_type, session.device_version].filter(Boolean).join(' · ') || 'unknown device';
    const deviceCell = cell(row, device, `session ${id}`);
    if (isCurrent) {
      const badge = document.createElement('span');
      badge.className = 'badge';
      badge.textContent = 'this device';
      deviceCell.insertBefore(badge, deviceCell.childNodes[1] ?? null);
    }
    const app = [session.app_name, session.app_version].filter(Boolean).join(' ') || 'unknown app';
    cell(row, app, `client id ${session.client_id ?? 0}${session.app_name ? '' : ' (not registered)'}`);
    const lastActive = Number(session.last_active ?? 0);
    const when = cell(row, ago(lastActive));
    when.title = new Date(lastActive).toLocaleString();
    when.dataset.lastActive = String(lastActive);
    cell(row, [session.country, session.region].filter(Boolean).join(', ') || '—');
    const actions = row.insertCell();
    actions.append(
      button('Revoke', 'danger small', () => void revoke([id], isCurrent), `Revoke ${isCurrent ? 'this device' : device}`),
    );
  }
  say(sessionsMessage, `${sessions.length} session${sessions.length === 1 ? '' : 's'}`);
}

async function revoke(ids: string[], includesCurrent: boolean): Promise<void> {
  if (!ids.length) {
    say(sessionsMessage, 'No other sessions.');
    return;
  }
  try {
    if (includesCurrent) await signOut();
    else {
      await client.call('auth_revoke_sessions', { session_ids: ids });
      say(sessionsMessage, `Revoked ${ids.length} session${ids.length === 1 ? '' : 's'}.`, 'ok');
      await loadSessions();
    }
  } catch (err) {
    say(sessionsMessage, errorText(err), 'error');
  }
}

$('#refresh-sessions').addEventListener('click', () => void loadSessions());
async function signOut(): Promise<void> {
  signingOut = true;
  try {
    await client.signOut();
  } catch (err) {
    signingOut = false;
    throw err;
  }
}
$('#sign-out').addEventListener('click', () => void signOut().catch((err) => say(sessionsMessage, errorText(err), 'error')));
$('#revoke-others').addEventListener('click', () => {
  void (async () => {
    const result = await client.call('auth_get_sessions', {}).catch((err) => {
      say(sessionsMessage, errorText(err), 'error');
      return null;
    });
    if (!result) return;
    const current = result.sessions?.current;
    await revoke((result.sessions?.sessions ?? []).map((s) => s.id ?? '').filter((id) => id && id !== current), false);
  })();
});
// Relative times age while the page is open.
setInterval(() => {
  for (const td of sessionsTable.querySelectorAll<HTMLElement>('td[data-last-active]')) {
    td.firstChild!.textContent = ago(Number(td.dataset.lastActive));
  }
}, 10_000);

// ---- verify email ----

const verifyForm = $<HTMLFormElement>('#verify-form');
const verifyMessage = $('.message', verifyForm);
verifyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'verify';
  const email = field(verifyForm, 'email').value.trim();
  void busy(verifyForm, verifyMessage, async () => {
    if (action === 'resend') {
      await client.call('auth_resend_email_verification', email ? { email } : {});
      say(verifyMessage, 'If that address waits for verification, a new code is on its way.', 'ok');
      return;
    }
    await client.call('auth_verify_email', { email, code: field(verifyForm, 'code').value.trim() });
    field(verifyForm, 'code').value = '';
    say(verifyMessage, `${email} is verified.`, 'ok');
  });
});

// ---- newest outbox mail (embedded mode without SMTP only) ----

let mailView = false;
void fetch('/console/settings.json')
  .then((r) => (r.ok ? (r.json() as Promise<{ mail?: boolean }>) : { mail: false }))
  .then((settings) => {
    mailView = settings.mail === true;
    if (signedIn) $('#dev-mail').hidden = !mailView;
  })
  .catch(() => undefined);

$('#show-mail').addEventListener('click', () => {
  const message = $('#mail-message');
  void busy($('#dev-mail'), message, async () => {
    const response = await fetch('/console/mail', { headers: { authorization: `Bearer ${client.token ?? ''}` } });
    const body = (await response.json()) as { subject?: string; date?: string | null; text?: string; error?: string };
    if (!response.ok) throw new Error(body.error ?? `HTTP ${response.status}`);
    $('#mail-subject').textContent = body.subject ?? '';
    $('#mail-date').textContent = body.date ? new Date(body.date).toLocaleString() : '';
    $('#mail-text').textContent = body.text ?? '';
    $('#mail').hidden = false;
    say(message, '');
  });
});

// ---- reset password ----

const resetForm = $<HTMLFormElement>('#reset-form');
const resetMessage = $('.message', resetForm);
resetForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'request';
  const email = field(resetForm, 'email').value.trim();
  void busy(resetForm, resetMessage, async () => {
    if (action === 'request') {
      await client.call('auth_reset_password', { email });
      $<HTMLFieldSetElement>('#reset-confirm').disabled = false;
      say(resetMessage, 'If an account has that address, a reset code is on its way.', 'ok');
      return;
    }
    await client.call('auth_reset_password', {
      email,
      confirm: { code: field(resetForm, 'code').value.trim(), new_password: field(resetForm, 'new_password').value },
    });
    field(resetForm, 'code').value = '';
    field(resetForm, 'new_password').value = '';
    say(resetMessage, 'Password changed. Every session of the account was signed out: sign in with the new password.', 'ok');
  });
});

// ---- invites ----

const lookupForm = $<HTMLFormElement>('#lookup-form');
const lookupMessage = $('.message', lookupForm);
const INVITE_TYPES = ['unknown', 'community', 'group', 'friend (user)'];

function describeTarget(preview: NonNullable<PlainResult['invite_preview']>): string {
  if (preview.community) return `community “${preview.community.name ?? ''}”`;
  if (preview.chat) return `group “${preview.chat.name ?? ''}”`;
  if (preview.user) return `friend: ${preview.user.name ?? ''}`;
  return INVITE_TYPES[preview.target_type ?? 0] ?? 'unknown';
}

function expiry(at: string | null | undefined): string {
  return at && at !== '0' ? `${ago(Number(at))} (${new Date(Number(at)).toLocaleString()})` : 'never';
}

lookupForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'lookup';
  const code = field(lookupForm, 'code').value.trim();
  void busy(lookupForm, lookupMessage, async () => {
    if (action === 'join') {
      await client.call('auth_use_invite', { code });
      say(lookupMessage, 'Joined.', 'ok');
      return;
    }
    $('#preview').hidden = true;
    const preview = (await client.call('auth_lookup_invite', { code })).invite_preview!;
    const fields = $('#preview-fields');
    fields.replaceChildren();
    for (const [term, value] of [
      ['Invite to', describeTarget(preview)],
      ['Created by', `${preview.creator?.name ?? ''} (${preview.creator_id ?? ''})`],
      ['Target id', preview.target_id ?? ''],
      ['Expires', expiry(preview.expires_at)],
    ] as const) {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      fields.append(dt, dd);
    }
    $('#join-invite').hidden = !signedIn;
    $('#preview').hidden = false;
    say(lookupMessage, '');
  });
});

const createForm = $<HTMLFormElement>('#create-form');
const createMessage = $('.message', createForm);
const inviteTable = $<HTMLTableElement>('#invite-list');
const targetSelect = createForm.elements.namedItem('target') as HTMLSelectElement;

function chatRef(): Record<string, unknown> {
  const target = targetSelect.value;
  if (target === 'channel') return { channel: { community_id: field(createForm, 'community_id').value.trim(), channel_id: field(createForm, 'channel_id').value.trim() } };
  if (target === 'group') return { group: { group_id: field(createForm, 'group_id').value.trim() } };
  return { self: {} };
}

targetSelect.addEventListener('change', () => {
  for (const label of createForm.querySelectorAll<HTMLElement>('label[data-target]')) label.hidden = label.dataset.target !== targetSelect.value;
  $('tbody', inviteTable).replaceChildren();
});

async function listInvites(): Promise<void> {
  if (!signedIn) return;
  const result = await client.call('chats_list_chat_invites', { chat_ref: chatRef() });
  const body = $<HTMLTableSectionElement>('tbody', inviteTable);
  body.replaceChildren();
  for (const invite of result.invite_list?.invites ?? []) {
    const row = body.insertRow();
    const code = invite.code ?? '';
    const codeCell = row.insertCell();
    const codeText = document.createElement('code');
    codeText.textContent = code;
    codeCell.append(codeText);
    cell(row, describeTarget(invite));
    cell(row, expiry(invite.expires_at));
    row.insertCell().append(
      button('Copy', 'secondary small', () => void copy(code, codeText), `Copy invite ${code}`),
      ' ',
      button('Delete', 'danger small', () => void deleteInvite(code), `Delete invite ${code}`),
    );
  }
  if (!result.invite_list?.invites?.length) say(createMessage, 'No live invites for this target.');
}

async function copy(code: string, element: HTMLElement): Promise<void> {
  try {
    await navigator.clipboard.writeText(code);
    say(createMessage, `Copied ${code}.`, 'ok');
  } catch {
    // No clipboard access (an insecure origin or a denied permission): select it for Ctrl+C instead.
    getSelection()?.selectAllChildren(element);
    say(createMessage, `Selected ${code}: press Ctrl+C to copy.`);
  }
}

async function deleteInvite(code: string): Promise<void> {
  try {
    await client.call('chats_delete_chat_invite', { code });
    say(createMessage, `Deleted ${code}.`, 'ok');
    await listInvites();
  } catch (err) {
    say(createMessage, errorText(err), 'error');
  }
}

createForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const action = (event.submitter as HTMLButtonElement | null)?.value ?? 'create';
  void busy(createForm, createMessage, async () => {
    if (action === 'create') {
      const expiresIn = Number((createForm.elements.namedItem('expires') as HTMLSelectElement).value);
      const maxUses = Number(field(createForm, 'max_uses').value || 0);
      const created = await client.call('chats_create_chat_invite', {
        chat_ref: chatRef(),
        ...(expiresIn ? { expires_at: String(Date.now() + expiresIn) } : {}),
        ...(maxUses ? { max_uses: maxUses } : {}),
      });
      say(createMessage, `Created invite ${created.created_invite?.code ?? ''}.`, 'ok');
    } else say(createMessage, '');
    await listInvites();
  });
});

// ---- log panel: every frame, decoded ----

const log = $<HTMLOListElement>('#log');
/** Send time of each request id, for the latency of its result. */
const sentAt = new Map<number, number>();
const SECRET_FIELDS = new Set(['password', 'new_password', 'current_password', 'totp']);

/** Masks passwords and shortens tokens, so a shared screen or screenshot leaks neither. */
function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => [
        k,
        SECRET_FIELDS.has(k) && typeof v === 'string' ? '•'.repeat(8)
        : k === 'token' && typeof v === 'string' ? `${v.slice(0, 12)}…`
        : redact(v),
      ]),
    );
  }
  return value;
}

function clock(at: number): string {
  const d = new Date(performance.timeOrigin + at);
  return `${d.toTimeString().slice(0, 8)}.${String(d.getMilliseconds()).padStart(3, '0')}`;
}

function describeFrame(frame: Frame): { summary: string; json: unknown; meta: string; error: boolean } {
  if (frame.direction === 'out') {
    const message = osmium.client.core.ClientMessage.decode(frame.bytes);
    const object = osmium.client.core.ClientMessage.toObject(message, DISPLAY_OPTIONS);
    const method = message.message;
    if (method) sentAt.set(message.id, frame.at);
    return { summary: method ? `${method} #${message.id}` : `heartbeat #${message.id}`, json: redact(object), meta: `${frame.bytes.length} B`, error: false };
  }
  const message = frame.message;
  const object = osmium.client.core.ServerMessage.toObject(message, DISPLAY_OPTIONS);
  if (message.result) {
    const reqId = message.result.req_id ?? 0;
    const started = sentAt.get(reqId);
    sentAt.delete(reqId);
    const latency = started === undefined ? '' : ` · ${(frame.at - started).toFixed(1)} ms`;
    const error = message.result.error;
    const summary = error ? `error ${error.error_code} #${reqId}: ${error.error_message}` : `${message.result.result ?? '()'} #${reqId}`;
    return { summary, json: redact(object), meta: `${frame.bytes.length} B${latency}`, error: !!error };
  }
  return { summary: `update ${message.update?.update ?? ''}`, json: redact(object), meta: `${frame.bytes.length} B`, error: false };
}

client.on('frame', (frame) => {
  const { summary, json, meta, error } = describeFrame(frame);
  const item = document.createElement('li');
  const details = document.createElement('details');
  const head = document.createElement('summary');
  const time = document.createElement('time');
  time.textContent = clock(frame.at);
  const dir = document.createElement('span');
  dir.className = `dir-${frame.direction}`;
  dir.textContent = frame.direction === 'out' ? '→' : '←';
  dir.setAttribute('aria-label', frame.direction === 'out' ? 'sent' : 'received');
  const what = document.createElement('span');
  what.textContent = summary;
  if (error) what.className = 'error';
  const size = document.createElement('span');
  size.className = 'meta';
  size.textContent = meta;
  head.append(time, dir, what, size);
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(json, null, 2);
  details.append(head, pre);
  item.append(details);
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.append(item);
  while (log.childElementCount > LOG_LIMIT) log.firstElementChild!.remove();
  if (atBottom) log.scrollTop = log.scrollHeight;
});
client.on('disconnected', ({ code, reason, retryInMs }) => {
  const item = document.createElement('li');
  item.className = 'meta';
  item.textContent = `closed ${code}${reason ? ` (${reason})` : ''}${retryInMs === null ? '' : `, reconnecting in ${retryInMs} ms`}`;
  log.append(item);
});
$('#clear-log').addEventListener('click', () => log.replaceChildren());

showSignedOut();
if (client.token) say(authMessage, 'Resuming your saved session…');
client.start();
