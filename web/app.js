// askdocs web page: accounts, uploads, documents and questions, on the askdocs HTTP API.
// No framework and no build step. Every piece of text from the API goes into
// the page as a text node (never as HTML).
'use strict';

(() => {
  const SESSION_KEY = 'askdocs.session';
  // The code + PKCE exchange in flight while the browser is at the sign-in pages.
  const SIGN_IN_KEY = 'askdocs.sign-in';
  const POLL_FIRST_MS = 1500;
  const POLL_MAX_MS = 10000;
  const PARALLEL_UPLOADS = 3;
  const CONTENT_TYPES = {
    pdf: 'application/pdf',
    docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    txt: 'text/plain',
    md: 'text/markdown',
    markdown: 'text/markdown',
    html: 'text/html',
    htm: 'text/html',
    csv: 'text/csv',
    // Photos and scans: read by OCR.
    png: 'image/png',
    jpg: 'image/jpeg',
    jpeg: 'image/jpeg',
    tif: 'image/tiff',
    tiff: 'image/tiff',
  };
  const STATUS_LABELS = { uploading: 'Uploading', pending: 'Queued', processing: 'Processing', ready: 'Ready', failed: 'Failed' };

  const state = {
    api: '', // base URL of the API; '' = this page's origin
    signIn: null, // config.json's signIn: federated sign-in through an OpenID Connect issuer
    token: null,
    user: null,
    session: 0, // counts logins and logouts: answers to an earlier session are dropped
    expiryTimer: null,
    docs: new Map(), // documentId -> document, newest first
    docsCursor: null,
    docNodes: new Map(), // documentId -> its <li>
    selected: new Set(), // documentIds questions are limited to
    pollTimer: null,
    pollDelay: POLL_FIRST_MS,
    uploads: new Set(), // uploads in flight (for logout)
    uploadQueue: [],
    uploadsRunning: 0,
    conversationId: null,
    turns: 0,
    historyLoaded: false,
    historyCursor: null,
    authMode: 'login',
    deleting: null,
  };

  const $ = (id) => document.getElementById(id);

  /** Builds an element. Strings among the children become text nodes. */
  function el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === 'class') node.className = value;
      else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
      else if (key.includes('-') || key === 'role' || key === 'for') node.setAttribute(key, value === true ? '' : value);
      else node[key] = value;
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) node.append(child);
    }
    return node;
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // ---------------------------------------------------------------- words

  const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

  function formatDate(iso) {
    const date = new Date(iso);
    return Number.isNaN(date.getTime()) ? '' : dateFormat.format(date);
  }

  function plural(count, one, many) {
    return `${count} ${count === 1 ? one : many}`;
  }

  function formatSize(bytes) {
    if (bytes < 1024) return plural(bytes, 'byte', 'bytes');
    if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
    return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  }

  function formatSeconds(seconds) {
    if (seconds < 60) return plural(seconds, 'second', 'seconds');
    const minutes = Math.ceil(seconds / 60);
    if (minutes < 60) return plural(minutes, 'minute', 'minutes');
    return plural(Math.ceil(minutes / 60), 'hour', 'hours');
  }

  /** "password must have a digit" -> "Password must have a digit." */
  function sentence(text) {
    const trimmed = String(text).trim();
    if (!trimmed) return trimmed;
    const first = trimmed[0].toUpperCase() + trimmed.slice(1);
    return /[.!?…]$/.test(first) ? first : `${first}.`;
  }

  function announce(message) {
    const announcer = $('announcer');
    announcer.textContent = '';
    // A fresh text a moment later is read even when it repeats the last one.
    setTimeout(() => {
      announcer.textContent = message;
    }, 50);
  }

  // ---------------------------------------------------------------- the API

  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function retryAfterSeconds(header) {
    if (!header) return null;
    if (/^\d+$/.test(header.trim())) return Math.max(1, parseInt(header, 10));
    const when = Date.parse(header);
    return Number.isNaN(when) ? null : Math.max(1, Math.ceil((when - Date.now()) / 1000));
  }

  /** The API's error body ({"error":{"code","message"}}) as a person reads it. */
  function errorFrom(status, body, retryAfter) {
    const detail = body && typeof body === 'object' ? body.error : null;
    const code = (detail && detail.code) || (status === 429 ? 'rate_limited' : `http_${status}`);
    // API Gateway's own answers are {"message": "..."} (or "Message").
    const gateway = body && typeof body === 'object' && (body.message || body.Message);
    let message = (detail && detail.message) || (typeof gateway === 'string' && gateway) || '';
    message = message ? sentence(message) : '';
    if (code === 'rate_limited') {
      const seconds = retryAfterSeconds(retryAfter);
      if (!message) message = 'Too many attempts.';
      if (!/try again/i.test(message)) {
        message += seconds ? ` Try again in ${formatSeconds(seconds)}.` : ' Try again in a little while.';
      }
    } else if (!message) {
      message = status >= 500
        ? `Something went wrong on the server (${status}). Try again in a moment.`
        : `The request was refused (${status}).`;
    }
    return new ApiError(status, code, message);
  }

  function parseBody(text) {
    if (!text) return null;
    try {
      return JSON.parse(text);
    } catch {
      return null;
    }
  }

  function unreachable() {
    return new ApiError(0, 'network', `Can't reach askdocs${state.api ? ` at ${state.api}` : ''}. Check that it is running and try again.`);
  }

  function stale() {
    return new ApiError(0, 'stale', 'This answer belongs to an earlier session.');
  }

  /** The error a refused request stands for; a refused token ends the session. */
  function refusal(response, data, { authenticated, endOn401 }) {
    const error = errorFrom(response.status, data, response.headers.get('Retry-After'));
    // 401, or API Gateway's authorizer denying the token (403 without our error body).
    const refused = response.status === 401 || (response.status === 403 && !(data && data.error));
    if (refused && authenticated && endOn401 && state.token) {
      endSession('Your session has ended. Please log in again.');
    }
    return error;
  }

  async function send(method, path, body, accept, authenticated) {
    const headers = { Accept: accept };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (authenticated && state.token) headers.Authorization = `Bearer ${state.token}`;
    return fetch(state.api + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    });
  }

  async function api(method, path, body, { authenticated = true, endOn401 = true } = {}) {
    const session = state.session;
    let response;
    let data;
    try {
      response = await send(method, path, body, 'application/json', authenticated);
      data = parseBody(await response.text());
    } catch {
      throw unreachable();
    }
    if (session !== state.session) throw stale();
    if (response.ok) return data;
    throw refusal(response, data, { authenticated, endOn401 });
  }

  /**
   * POST `body` to `path` asking for server-sent events; `onEvent(name, data)`
   * is called for each as it arrives. A refused request throws as api()
   * does; a server that answers with JSON instead gives one `done` event.
   */
  async function stream(path, body, onEvent) {
    const session = state.session;
    let response;
    try {
      response = await send('POST', path, body, 'text/event-stream', true);
    } catch {
      throw unreachable();
    }
    if (session !== state.session) throw stale();
    const type = response.headers.get('Content-Type') || '';
    if (!response.ok || !type.startsWith('text/event-stream')) {
      let data;
      try {
        data = parseBody(await response.text());
      } catch {
        throw unreachable();
      }
      if (!response.ok) throw refusal(response, data, { authenticated: true, endOn401: true });
      onEvent('done', data);
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    // Leaving early for any reason (an error event, a stale session, a bug
    // in a handler) closes the connection: the server stops the answer.
    const ended = state.session;
    let complete = false;
    try {
      let buffer = '';
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch {
          throw new ApiError(0, 'network', 'The connection broke off before the answer was complete. Please ask again.');
        }
        if (ended !== state.session) throw stale();
        if (chunk.done) {
          complete = true;
          return;
        }
        buffer = (buffer + chunk.value).replace(/\r\n?/g, '\n');
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let name = 'message';
          const data = [];
          for (const line of block.split('\n')) {
            if (line.startsWith('event:')) name = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if (data.length) onEvent(name, parseBody(data.join('\n')));
        }
      }
    } finally {
      if (!complete) reader.cancel().catch(() => {});
    }
  }

  /** An error nobody needs to see: the session it belonged to is over. */
  function moot(error) {
    return error.code === 'stale' || !state.token;
  }

  /** config.json: where the API is (default: this origin) and how to sign in through an issuer. */
  async function loadConfig() {
    let config = null;
    try {
      const response = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
      if (response.ok) config = await response.json();
    } catch {
      // No config.json: the API is on this page's origin, our own accounts only.
    }
    const url = (value) => typeof value === 'string' && /^https?:\/\/[^\s]+$/i.test(value);
    const api = config && url(config.apiUrl) ? config.apiUrl.replace(/\/+$/, '') : '';
    const signIn = config && config.signIn;
    const usable = signIn && url(signIn.authorizeUrl) && url(signIn.tokenUrl) &&
      typeof signIn.clientId === 'string' && Array.isArray(signIn.providers);
    return { api, signIn: usable ? signIn : null };
  }

  // ---------------------------------------------------------------- federated sign-in

  function base64url(bytes) {
    let text = '';
    for (const byte of new Uint8Array(bytes)) text += String.fromCharCode(byte);
    return btoa(text).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  function randomText(bytes) {
    return base64url(crypto.getRandomValues(new Uint8Array(bytes)));
  }

  /** Where the issuer sends people back: this page, at the address its app client lists. */
  function redirectUri() {
    return `${location.origin}/`;
  }

  function showSignInButtons() {
    const box = $('federated-buttons');
    box.replaceChildren();
    const signIn = state.signIn;
    show($('federated'), Boolean(signIn && signIn.providers.length));
    if (!signIn) return;
    for (const provider of signIn.providers) {
      const label = typeof provider.label === 'string' && provider.label ? provider.label : 'your organisation';
      box.append(el('button', {
        type: 'button',
        class: 'button secondary',
        'data-provider': typeof provider.id === 'string' ? provider.id : '',
        onclick: () => startSignIn(provider),
      }, `Sign in with ${label}`));
    }
  }

  /** Sends the browser to the issuer's sign-in page (authorization code + PKCE, RFC 7636). */
  async function startSignIn(provider) {
    const signIn = state.signIn;
    const verifier = randomText(32);
    const challenge = base64url(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
    const flow = { verifier, state: randomText(16), api: state.api, label: provider.label || '' };
    try {
      sessionStorage.setItem(SIGN_IN_KEY, JSON.stringify(flow));
    } catch {
      return authError('This browser refuses to keep the sign-in in progress (private mode?). Use your email and password instead.');
    }
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: signIn.clientId,
      redirect_uri: redirectUri(),
      scope: signIn.scope || 'openid email profile',
      state: flow.state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    if (typeof provider.id === 'string' && provider.id) query.set('identity_provider', provider.id);
    location.assign(`${signIn.authorizeUrl}?${query}`);
  }

  /** Whether this address is the issuer sending someone back (?code=&state= or ?error=). */
  function isSignInReturn() {
    const params = new URLSearchParams(location.search);
    return params.has('state') && (params.has('code') || params.has('error'));
  }

  /** Trades the code the issuer sent back for tokens and starts a session with the ID token. */
  async function finishSignIn() {
    const params = new URLSearchParams(location.search);
    // The code works once; keep it out of the history and of any reload.
    history.replaceState(null, '', location.pathname);
    let flow = null;
    try {
      flow = JSON.parse(sessionStorage.getItem(SIGN_IN_KEY) || 'null');
      sessionStorage.removeItem(SIGN_IN_KEY);
    } catch {
      // Nothing kept: treated as a sign-in this page did not start.
    }
    const name = (flow && flow.label) || 'your provider';
    if (!state.signIn || !flow || flow.state !== params.get('state') || flow.api !== state.api) {
      authError('That sign-in was not started from this page. Please try again.');
      return;
    }
    if (params.has('error')) {
      const reason = params.get('error_description') || params.get('error');
      authError(`Sign-in with ${name} did not complete: ${reason}`);
      return;
    }
    try {
      const response = await fetch(state.signIn.tokenUrl, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          client_id: state.signIn.clientId,
          code: params.get('code'),
          redirect_uri: redirectUri(),
          code_verifier: flow.verifier,
        }),
      });
      const tokens = await response.json().catch(() => ({}));
      if (!response.ok || typeof tokens.id_token !== 'string') {
        throw new Error(tokens.error_description || tokens.error || `the sign-in service answered ${response.status}`);
      }
      state.token = tokens.id_token;
      // The first request of a new identity makes its askdocs account.
      const profile = await api('GET', '/auth/profile', undefined, { endOn401: false });
      const lifetime = Number(tokens.expires_in) > 0 ? Number(tokens.expires_in) : 3600;
      startSession({
        token: tokens.id_token,
        user: profile,
        expiresAt: Date.now() + lifetime * 1000,
        api: state.api,
        federated: { refreshToken: typeof tokens.refresh_token === 'string' ? tokens.refresh_token : null },
      });
      announce(`You are signed in with ${name}.`);
    } catch (error) {
      state.token = null;
      authError(`Sign-in with ${name} did not complete: ${error.message}`);
    }
  }

  /**
   * After our own logout revoked the token for our API: revokes the refresh
   * token and ends the issuer's session too, so the next "Sign in with" asks
   * again. Leaves the page when the issuer has a sign-out page.
   */
  async function endFederatedSession(session) {
    const signIn = state.signIn;
    if (!signIn || !session || !session.federated) return;
    const refreshToken = session.federated.refreshToken;
    if (refreshToken && signIn.revokeUrl) {
      await fetch(signIn.revokeUrl, {
        method: 'POST',
        credentials: 'omit',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: refreshToken, client_id: signIn.clientId }),
      }).catch(() => {});
    }
    if (!signIn.logoutUrl) return;
    const query = signIn.kind === 'cognito'
      ? new URLSearchParams({ client_id: signIn.clientId, logout_uri: redirectUri() })
      : new URLSearchParams({ client_id: signIn.clientId, post_logout_redirect_uri: redirectUri(), id_token_hint: session.token });
    location.assign(`${signIn.logoutUrl}?${query}`);
  }

  // ---------------------------------------------------------------- banner

  function showBanner(message) {
    const banner = $('banner');
    banner.replaceChildren(
      el('span', {}, message),
      el('button', { type: 'button', class: 'link', onclick: hideBanner }, 'Dismiss'),
    );
    show(banner, true);
  }

  function hideBanner() {
    show($('banner'), false);
  }

  // ---------------------------------------------------------------- accounts

  function setAuthMode(mode) {
    state.authMode = mode;
    const register = mode === 'register';
    $('auth-title').textContent = register ? 'Create an account' : 'Log in';
    $('auth-submit').textContent = register ? 'Create account' : 'Log in';
    $('auth-switch-text').textContent = register ? 'Already have an account?' : 'New here?';
    $('auth-switch').textContent = register ? 'Log in instead' : 'Create an account';
    $('auth-password').autocomplete = register ? 'new-password' : 'current-password';
    show($('name-field'), register);
    show($('password-hint'), register);
    show($('auth-error'), false);
  }

  function authError(message, focus) {
    const box = $('auth-error');
    box.textContent = message;
    show(box, true);
    if (focus) focus.focus();
  }

  async function submitAuth(event) {
    event.preventDefault();
    const email = $('auth-email').value.trim();
    const password = $('auth-password').value;
    const name = $('auth-name').value.trim();
    if (!email) return authError('Enter your email address.', $('auth-email'));
    if (!password) return authError('Enter your password.', $('auth-password'));
    const button = $('auth-submit');
    const label = button.textContent;
    button.disabled = true;
    button.textContent = state.authMode === 'register' ? 'Creating account…' : 'Logging in…';
    show($('auth-error'), false);
    try {
      if (state.authMode === 'register') {
        await api('POST', '/auth/register', name ? { email, password, name } : { email, password }, { authenticated: false });
      }
      const session = await api('POST', '/auth/login', { email, password }, { authenticated: false });
      $('auth-password').value = '';
      startSession({
        token: session.token,
        user: session.user,
        expiresAt: Date.now() + session.expiresIn * 1000,
        api: state.api,
      });
      announce(state.authMode === 'register' ? 'Account created. You are logged in.' : 'You are logged in.');
    } catch (error) {
      authError(error.message);
    } finally {
      button.disabled = false;
      button.textContent = label;
    }
  }

  function saveSession(session) {
    try {
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    } catch {
      // Storage refused (private mode): the session lives in memory only.
    }
  }

  function savedSession() {
    try {
      const session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (session && session.token && session.api === state.api && session.expiresAt > Date.now() + 5000) return session;
    } catch {
      // Unreadable: start over.
    }
    return null;
  }

  function startSession(session) {
    state.session += 1;
    state.token = session.token;
    state.user = session.user;
    saveSession(session);
    clearTimeout(state.expiryTimer);
    const remaining = Math.min(session.expiresAt - Date.now(), 2 ** 31 - 1);
    state.expiryTimer = setTimeout(() => endSession('Your session has expired. Please log in again.'), remaining);
    hideBanner();
    $('account-name').textContent = session.user.name || session.user.email || `${session.user.provider} user`;
    show($('account'), true);
    show($('auth-view'), false);
    show($('app-view'), true);
    $('docs-title').focus();
    resetConversation();
    state.historyLoaded = false;
    $('history').open = false;
    loadDocuments();
  }

  /** Forgets the session on this page (the token is already invalid or revoked). */
  function endSession(message) {
    if (!state.token) return;
    state.session += 1;
    state.token = null;
    state.user = null;
    try {
      sessionStorage.removeItem(SESSION_KEY);
    } catch {
      // Nothing stored.
    }
    clearTimeout(state.expiryTimer);
    clearTimeout(state.pollTimer);
    for (const upload of state.uploads) upload.abort();
    state.uploadQueue = [];
    state.docs.clear();
    state.docNodes.clear();
    state.selected.clear();
    $('docs').replaceChildren();
    $('uploads').replaceChildren();
    $('conversation').replaceChildren();
    $('history-list').replaceChildren();
    show($('account'), false);
    show($('app-view'), false);
    show($('auth-view'), true);
    setAuthMode('login');
    if (message) showBanner(message);
    $('auth-title').focus();
  }

  async function logout() {
    const button = $('logout');
    button.disabled = true;
    const session = savedSession();
    try {
      await api('POST', '/auth/logout', undefined, { endOn401: false });
    } catch {
      // The token is forgotten here whatever the server said.
    } finally {
      button.disabled = false;
    }
    endSession();
    announce('You are logged out.');
    await endFederatedSession(session);
  }

  // ---------------------------------------------------------------- documents

  async function loadDocuments() {
    show($('docs-loading'), state.docs.size === 0);
    try {
      const page = await api('GET', '/documents?limit=100');
      mergeDocuments(page, { complete: true });
    } catch (error) {
      if (!moot(error)) showBanner(error.message);
    } finally {
      show($('docs-loading'), false);
    }
    loadStorage();
  }

  /** What the account keeps against its quota, under the drop zone. */
  async function loadStorage() {
    try {
      const { storage } = await api('GET', '/auth/profile');
      if (!storage) return;
      const line = $('storage');
      line.textContent = `Using ${storage.documents} of ${storage.maxDocuments} documents · `
        + `${formatSize(storage.bytes)} of ${formatSize(storage.maxBytes)}`;
      show(line, true);
    } catch (error) {
      // The line is a courtesy; the documents are what matter.
    }
  }

  async function loadMoreDocuments() {
    if (!state.docsCursor) return;
    const button = $('docs-more');
    button.disabled = true;
    try {
      const page = await api('GET', `/documents?limit=100&cursor=${encodeURIComponent(state.docsCursor)}`);
      for (const doc of page.documents) state.docs.set(doc.documentId, doc);
      state.docsCursor = page.nextCursor;
      renderDocuments();
    } catch (error) {
      if (!moot(error)) showBanner(error.message);
    } finally {
      button.disabled = false;
    }
  }

  /** Takes in the newest page of documents, announcing what changed. */
  function mergeDocuments(page, { complete }) {
    const next = new Map();
    const news = [];
    let changed = false;
    for (const doc of page.documents) {
      const before = state.docs.get(doc.documentId);
      if (before && before.status !== doc.status) {
        changed = true;
        if (doc.status === 'ready') {
          news.push(`${doc.fileName} is ready: ${plural(doc.pages || 0, 'page', 'pages')}, ${plural(doc.chunks || 0, 'passage', 'passages')}.`);
        } else if (doc.status === 'failed') {
          news.push(`${doc.fileName} could not be processed: ${doc.statusReason || 'no reason given'}.`);
        }
      }
      // OCR's pages done: keep polling briskly while they move.
      if (!before || before.statusReason !== doc.statusReason) changed = true;
      next.set(doc.documentId, doc);
    }
    // Older documents loaded with "Show more" stay while there are more pages.
    if (page.nextCursor && !complete) {
      for (const [id, doc] of state.docs) if (!next.has(id)) next.set(id, doc);
    }
    if (complete) state.docsCursor = page.nextCursor;
    if (next.size !== state.docs.size) changed = true;
    state.docs = next;
    for (const id of state.selected) {
      const doc = state.docs.get(id);
      if (!doc || doc.status !== 'ready') state.selected.delete(id);
    }
    renderDocuments();
    if (news.length) announce(news.join(' '));
    state.pollDelay = changed ? POLL_FIRST_MS : Math.min(state.pollDelay * 1.5, POLL_MAX_MS);
    schedulePoll();
  }

  function schedulePoll() {
    clearTimeout(state.pollTimer);
    const busy = [...state.docs.values()].some((doc) => ['uploading', 'pending', 'processing'].includes(doc.status));
    if (busy && state.token) state.pollTimer = setTimeout(poll, state.pollDelay);
  }

  async function poll() {
    if (!state.token) return;
    try {
      const page = await api('GET', '/documents?limit=100');
      mergeDocuments(page, { complete: false });
    } catch (error) {
      if (moot(error)) return;
      state.pollDelay = POLL_MAX_MS;
      schedulePoll();
    }
  }

  function documentMeta(doc) {
    const parts = [];
    if (doc.status === 'ready') {
      if (doc.pages != null) parts.push(plural(doc.pages, 'page', 'pages'));
      if (doc.chunks != null) parts.push(plural(doc.chunks, 'passage', 'passages'));
    } else if (doc.status === 'uploading') {
      parts.push('waiting for the file');
    } else if (doc.status === 'pending') {
      parts.push('waiting to be read');
    } else if (doc.status === 'processing') {
      parts.push('reading and indexing');
    }
    parts.push(formatSize(doc.size));
    parts.push(`uploaded ${formatDate(doc.uploadDate)}`);
    return parts.join(' · ');
  }

  function documentNode(doc) {
    const id = doc.documentId;
    const pick = el('input', {
      type: 'checkbox',
      id: `pick-${id}`,
      'aria-describedby': `meta-${id}`,
      onchange: () => {
        if (pick.checked) state.selected.add(id);
        else state.selected.delete(id);
        renderScope();
      },
    });
    const node = el('li', { class: 'doc' },
      el('div', { class: 'doc-head' },
        pick,
        el('label', { for: `pick-${id}`, class: 'doc-name' }, doc.fileName),
        el('span', { class: 'badge' })),
      el('p', { class: 'doc-meta', id: `meta-${id}` }),
      el('p', { class: 'doc-reason' }),
      el('div', { class: 'doc-actions' },
        el('button', { type: 'button', class: 'link download', onclick: () => download(id) },
          'Download', el('span', { class: 'visually-hidden' }, ` ${doc.fileName}`)),
        el('button', { type: 'button', class: 'link danger delete', onclick: (event) => confirmDelete(id, event.currentTarget) },
          'Delete', el('span', { class: 'visually-hidden' }, ` ${doc.fileName}`))));
    node.dataset.id = id;
    return node;
  }

  function updateDocumentNode(node, doc) {
    const badge = node.querySelector('.badge');
    badge.textContent = STATUS_LABELS[doc.status] || doc.status;
    badge.className = `badge status-${doc.status}`;
    node.dataset.status = doc.status;
    node.querySelector('.doc-meta').textContent = documentMeta(doc);
    const reason = node.querySelector('.doc-reason');
    // Failed: why. Processing: how far OCR has got. Ready: what was left unread, if anything.
    let said = '';
    if (doc.status === 'failed') said = `Could not be processed: ${doc.statusReason || 'no reason given'}`;
    else if (doc.statusReason && doc.status === 'processing') said = `${doc.statusReason[0].toUpperCase()}${doc.statusReason.slice(1)}…`;
    else if (doc.statusReason && doc.status === 'ready') said = `Note: ${doc.statusReason}`;
    reason.textContent = said;
    reason.classList.toggle('doc-note', doc.status !== 'failed');
    show(reason, Boolean(said));
    const pick = node.querySelector('input[type=checkbox]');
    pick.disabled = doc.status !== 'ready';
    pick.checked = state.selected.has(doc.documentId);
  }

  function renderDocuments() {
    const list = $('docs');
    for (const [id, node] of state.docNodes) {
      if (!state.docs.has(id)) {
        node.remove();
        state.docNodes.delete(id);
      }
    }
    let index = 0;
    for (const doc of state.docs.values()) {
      let node = state.docNodes.get(doc.documentId);
      if (!node) {
        node = documentNode(doc);
        state.docNodes.set(doc.documentId, node);
      }
      updateDocumentNode(node, doc);
      // Moves only what is out of place, so focus inside the list survives a refresh.
      if (list.children[index] !== node) list.insertBefore(node, list.children[index] || null);
      index += 1;
    }
    show($('docs-empty'), state.docs.size === 0);
    show($('docs-hint'), state.docs.size > 0);
    show($('docs-more'), Boolean(state.docsCursor));
    renderScope();
  }

  async function download(id) {
    try {
      const doc = await api('GET', `/documents/${encodeURIComponent(id)}`);
      if (!/^https?:\/\//i.test(doc.downloadUrl || '')) throw new ApiError(0, 'bad_url', 'The download link is not valid.');
      const link = el('a', { href: doc.downloadUrl, download: doc.fileName, rel: 'noopener' });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (error) {
      if (!moot(error)) showBanner(error.message);
    }
  }

  function confirmDelete(id, opener) {
    const doc = state.docs.get(id);
    if (!doc) return;
    const dialog = $('confirm');
    $('confirm-text').textContent =
      `“${doc.fileName}” will be deleted with everything read from it; no answer can cite it afterwards.`;
    state.deleting = { id, opener };
    dialog.returnValue = '';
    dialog.showModal();
    $('confirm-cancel').focus();
  }

  async function afterConfirm() {
    const dialog = $('confirm');
    const pending = state.deleting;
    state.deleting = null;
    if (!pending) return;
    if (dialog.returnValue !== 'ok') {
      pending.opener.focus();
      return;
    }
    const doc = state.docs.get(pending.id);
    const name = doc ? doc.fileName : 'The document';
    try {
      await api('DELETE', `/documents/${encodeURIComponent(pending.id)}`);
    } catch (error) {
      if (moot(error)) return;
      if (error.status !== 404) {
        showBanner(error.message);
        pending.opener.focus();
        return;
      }
    }
    // Focus goes to the next document, or the list's heading when none is left.
    const node = state.docNodes.get(pending.id);
    const neighbour = node && (node.nextElementSibling || node.previousElementSibling);
    state.docs.delete(pending.id);
    state.selected.delete(pending.id);
    renderDocuments();
    loadStorage();
    announce(`${name} deleted.`);
    if (neighbour && neighbour.isConnected) neighbour.querySelector('.delete').focus();
    else $('docs-title').focus();
  }

  // ---------------------------------------------------------------- uploads

  function contentTypeOf(file) {
    const extension = (file.name.split('.').pop() || '').toLowerCase();
    if (CONTENT_TYPES[extension]) return CONTENT_TYPES[extension];
    return Object.values(CONTENT_TYPES).includes(file.type) ? file.type : null;
  }

  function queueUploads(files) {
    for (const file of files) {
      const progress = el('progress', { max: 100, value: 0, 'aria-label': `Upload of ${file.name}` });
      const status = el('span', { class: 'upload-status' }, 'Waiting…');
      const action = el('button', { type: 'button', class: 'link' }, 'Cancel', el('span', { class: 'visually-hidden' }, ` ${file.name}`));
      const node = el('li', { class: 'upload' },
        el('span', { class: 'upload-name' }, file.name), progress, status, action);
      const item = { file, node, progress, status, action, xhr: null, cancelled: false, documentId: null };
      action.addEventListener('click', () => cancelUpload(item));
      $('uploads').append(node);
      state.uploadQueue.push(item);
    }
    announce(`${plural(files.length, 'file', 'files')} queued for upload.`);
    pumpUploads();
  }

  function pumpUploads() {
    while (state.uploadsRunning < PARALLEL_UPLOADS && state.uploadQueue.length) {
      const item = state.uploadQueue.shift();
      state.uploadsRunning += 1;
      upload(item).finally(() => {
        state.uploadsRunning -= 1;
        pumpUploads();
      });
    }
  }

  function finishUpload(item, message, failed) {
    item.status.textContent = message;
    item.node.classList.toggle('failed', failed);
    show(item.progress, !failed);
    const dismiss = el('button', {
      type: 'button',
      class: 'link',
      onclick: () => {
        const next = item.node.nextElementSibling || item.node.previousElementSibling;
        item.node.remove();
        if (next) next.querySelector('button').focus();
        else $('file-input').focus();
      },
    }, 'Dismiss', el('span', { class: 'visually-hidden' }, ` ${item.file.name}`));
    const hadFocus = document.activeElement === item.action;
    item.action.replaceWith(dismiss);
    item.action = dismiss;
    if (hadFocus) dismiss.focus();
    if (!failed) {
      // Done: the document list shows it from here on.
      setTimeout(() => {
        if (item.node.contains(document.activeElement)) $('file-input').focus();
        item.node.remove();
      }, 4000);
    }
  }

  function cancelUpload(item) {
    if (item.node.classList.contains('done')) return;
    item.cancelled = true;
    const queued = state.uploadQueue.indexOf(item);
    if (queued >= 0) state.uploadQueue.splice(queued, 1);
    if (item.xhr) item.xhr.abort();
    finishUpload(item, 'Cancelled', true);
    if (item.documentId) discardPending(item.documentId);
  }

  /** A document whose file never arrived is deleted rather than left pending. */
  function discardPending(documentId) {
    api('DELETE', `/documents/${encodeURIComponent(documentId)}`).catch(() => {}).finally(loadDocuments);
  }

  async function upload(item) {
    const { file } = item;
    if (item.cancelled) return;
    const contentType = contentTypeOf(file);
    if (!contentType) {
      finishUpload(item, 'Not a file askdocs reads: PDF, DOCX, TXT, Markdown, HTML, CSV, or a PNG, JPEG or TIFF image.', true);
      announce(`${file.name} was not uploaded: askdocs reads PDF, DOCX, TXT, Markdown, HTML and CSV files.`);
      return;
    }
    item.status.textContent = 'Starting…';
    let ticket;
    try {
      ticket = await api('POST', '/documents/upload', { fileName: file.name, contentType, size: file.size });
    } catch (error) {
      if (item.cancelled || moot(error)) return;
      finishUpload(item, error.message, true);
      announce(`${file.name} was not uploaded: ${error.message}`);
      return;
    }
    item.documentId = ticket.documentId;
    loadStorage();
    if (item.cancelled) {
      discardPending(ticket.documentId);
      return;
    }
    try {
      await put(item, ticket, contentType);
    } catch (error) {
      if (item.cancelled || moot(error)) return;
      finishUpload(item, error.message, true);
      announce(`${file.name} was not uploaded: ${error.message}`);
      discardPending(ticket.documentId);
      return;
    }
    item.progress.value = 100;
    finishUpload(item, 'Uploaded; processing starts by itself.', false);
    announce(`${file.name} uploaded; it is being processed.`);
    loadDocuments();
  }

  /** PUTs the file to its upload URL with the headers it was signed with, reporting progress. */
  function put(item, ticket, contentType) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      item.xhr = xhr;
      state.uploads.add(xhr);
      xhr.open(ticket.uploadMethod || 'PUT', ticket.uploadUrl);
      const headers = ticket.uploadHeaders || { 'Content-Type': contentType };
      for (const [name, value] of Object.entries(headers)) {
        // The browser sets these itself (and refuses to be told).
        if (/^(content-length|host)$/i.test(name)) continue;
        xhr.setRequestHeader(name, value);
      }
      xhr.upload.addEventListener('progress', (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.floor((event.loaded / event.total) * 100);
        item.progress.value = percent;
        item.status.textContent = `${percent}%`;
      });
      xhr.addEventListener('load', () => {
        state.uploads.delete(xhr);
        if (xhr.status >= 200 && xhr.status < 300) return resolve();
        reject(uploadError(xhr));
      });
      xhr.addEventListener('error', () => {
        state.uploads.delete(xhr);
        reject(new ApiError(0, 'network', 'The upload was interrupted. Check your connection and try again.'));
      });
      xhr.addEventListener('abort', () => {
        state.uploads.delete(xhr);
        reject(new ApiError(0, 'aborted', 'Cancelled'));
      });
      item.status.textContent = '0%';
      xhr.send(item.file);
    });
  }

  /** The storage's refusal in words: askdocs' JSON error, or S3's XML one. */
  function uploadError(xhr) {
    const body = parseBody(xhr.responseText);
    if (body) return errorFrom(xhr.status, body, xhr.getResponseHeader('Retry-After'));
    const xml = xhr.responseText && new DOMParser().parseFromString(xhr.responseText, 'application/xml');
    const message = xml && xml.querySelector('Message');
    if (message && message.textContent) return new ApiError(xhr.status, 'storage', `The storage refused the file: ${sentence(message.textContent)}`);
    return errorFrom(xhr.status, null, null);
  }

  function bindDropzone() {
    const zone = $('dropzone');
    let depth = 0;
    zone.addEventListener('dragenter', (event) => {
      event.preventDefault();
      depth += 1;
      zone.classList.add('dragging');
    });
    zone.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (!depth) zone.classList.remove('dragging');
    });
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      depth = 0;
      zone.classList.remove('dragging');
      const files = [...(event.dataTransfer.files || [])];
      if (files.length) queueUploads(files);
    });
    // A file dropped beside the zone must not replace the page.
    window.addEventListener('dragover', (event) => event.preventDefault());
    window.addEventListener('drop', (event) => event.preventDefault());
    $('file-input').addEventListener('change', (event) => {
      const files = [...event.target.files];
      event.target.value = '';
      if (files.length) queueUploads(files);
    });
  }

  // ---------------------------------------------------------------- questions

  function renderScope() {
    const scope = $('scope');
    const names = [...state.selected].map((id) => state.docs.get(id)).filter(Boolean).map((doc) => doc.fileName);
    if (names.length) {
      scope.textContent = `Asking only ${names.length === 1 ? 'this document' : `these ${names.length} documents`}: ${names.join(', ')}.`;
    } else {
      const ready = [...state.docs.values()].filter((doc) => doc.status === 'ready').length;
      scope.textContent = ready
        ? `Asking all your ready documents (${ready}).`
        : 'No document is ready yet: upload one first.';
    }
    show($('clear-scope'), names.length > 0);
  }

  function clearScope() {
    state.selected.clear();
    renderDocuments();
    $('question').focus();
  }

  function resetConversation() {
    state.conversationId = null;
    $('conversation').replaceChildren();
    show($('new-conversation'), false);
    show($('ask-error'), false);
  }

  function escapeRegExp(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }

  /** The passage with the quoted sentence marked. */
  function passage(citation) {
    const text = citation.text || citation.snippet || '';
    const snippet = (citation.snippet || '').trim();
    const quote = el('blockquote', { class: 'passage' });
    let start = snippet ? text.indexOf(snippet) : -1;
    let end = start + snippet.length;
    if (start < 0 && snippet) {
      const words = snippet.split(/\s+/).map(escapeRegExp);
      const found = new RegExp(words.join('\\s+')).exec(text);
      if (found) {
        start = found.index;
        end = start + found[0].length;
      }
    }
    if (start >= 0) {
      quote.append(text.slice(0, start), el('mark', {}, text.slice(start, end)), text.slice(end));
      return [quote];
    }
    quote.append(text);
    return snippet && snippet !== text
      ? [el('p', { class: 'quoted' }, 'Quoted: ', el('mark', {}, snippet)), quote]
      : [quote];
  }

  function openSource(turnId, number) {
    const item = document.getElementById(`source-${turnId}-${number}`);
    if (!item) return;
    const details = item.querySelector('details');
    details.open = true;
    const summary = details.querySelector('summary');
    summary.focus();
    item.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    item.classList.remove('flash');
    void item.offsetWidth;
    item.classList.add('flash');
  }

  /** The answer's text, its [n] and [n, m] marks as links to the sources. */
  function answerText(text, turnId, count) {
    const paragraph = el('p', { class: 'answer-text' });
    const marks = /\[(\d+(?:\s*,\s*\d+)*)\]/g;
    let last = 0;
    for (const match of text.matchAll(marks)) {
      const numbers = match[1].split(',').map((n) => parseInt(n.trim(), 10));
      if (!numbers.every((n) => n >= 1 && n <= count)) continue;
      paragraph.append(text.slice(last, match.index), '[');
      numbers.forEach((number, index) => {
        if (index) paragraph.append(', ');
        paragraph.append(el('a', {
          href: `#source-${turnId}-${number}`,
          class: 'cite',
          'aria-label': `source ${number}`,
          onclick: (event) => {
            event.preventDefault();
            openSource(turnId, number);
          },
        }, String(number)));
      });
      paragraph.append(']');
      last = match.index + match[0].length;
    }
    paragraph.append(text.slice(last));
    return paragraph;
  }

  function sourceList(citations, turnId, title) {
    return citations.length
      ? [
        el('h3', { class: 'sources-title' }, title),
        el('ol', { class: 'sources' }, citations.map((citation, index) => el('li', { id: `source-${turnId}-${index + 1}` },
          el('details', {},
            el('summary', {},
              el('span', { class: 'source-number' }, `[${index + 1}]`), ' ',
              el('span', { class: 'source-file' }, citation.fileName),
              el('span', { class: 'muted' }, `, page ${citation.page}`)),
            passage(citation))))),
      ]
      : [];
  }

  function turnNode(entry) {
    state.turns += 1;
    const turnId = state.turns;
    const citations = entry.citations || [];
    return el('li', { class: 'turn' },
      el('p', { class: 'question' }, el('span', { class: 'visually-hidden' }, 'You asked: '), entry.question),
      el('div', { class: 'answer' },
        el('span', { class: 'visually-hidden' }, 'Answer: '),
        answerText(entry.answer, turnId, citations.length),
        sourceList(citations, turnId, 'Sources'),
        el('p', { class: 'model muted' }, [entry.model ? `Answered by ${entry.model}` : '', entry.createdAt ? formatDate(entry.createdAt) : '']
          .filter(Boolean).join(' · '))));
  }

  /**
   * A turn whose answer is still being written: the passages found first,
   * then the text as it grows ([n] numbers those passages). `finish` puts
   * the answer as filed in its place.
   */
  function growingTurn(question, found) {
    state.turns += 1;
    const turnId = state.turns;
    let text = '';
    let paragraph = el('p', { class: 'answer-text growing' });
    const status = el('p', { class: 'model muted' }, 'Writing the answer…');
    const answer = el('div', { class: 'answer', 'aria-busy': 'true' },
      el('span', { class: 'visually-hidden' }, 'Answer: '),
      paragraph,
      sourceList(found, turnId, 'Passages found'),
      status);
    const node = el('li', { class: 'turn' },
      el('p', { class: 'question' }, el('span', { class: 'visually-hidden' }, 'You asked: '), question),
      answer);
    return {
      node,
      grow(piece) {
        text += piece;
        const next = answerText(text, turnId, found.length);
        next.classList.add('growing');
        paragraph.replaceWith(next);
        paragraph = next;
      },
      finish(entry) {
        const done = turnNode(entry);
        node.replaceWith(done);
        return done;
      },
      fail(message, withdrawn) {
        answer.removeAttribute('aria-busy');
        paragraph.classList.remove('growing');
        // Text the model's filter withdrew is not left on screen.
        if (withdrawn) paragraph.textContent = '';
        status.textContent = `The answer stopped: ${message}`;
        status.classList.add('error');
      },
    };
  }

  async function ask(event) {
    event.preventDefault();
    const box = $('question');
    const question = box.value.trim();
    const errorBox = $('ask-error');
    if (!question) {
      errorBox.textContent = 'Type a question first.';
      show(errorBox, true);
      box.focus();
      return;
    }
    const request = { question };
    if (state.selected.size) request.documentIds = [...state.selected];
    if (state.conversationId) request.conversationId = state.conversationId;
    const button = $('ask-submit');
    button.disabled = true;
    button.textContent = 'Asking…';
    show(errorBox, false);
    announce('Looking through your documents…');
    let turn = null;
    let answered = false;
    const settle = (conversationId) => {
      state.conversationId = conversationId;
      show($('new-conversation'), true);
      box.value = '';
      $('question-label').textContent = 'Follow-up question';
    };
    try {
      // The answer arrives as events: the passages found, the text as it is
      // written, then the answer as it was filed (or an error).
      await stream('/query/ask', request, (name, data) => {
        if (name === 'citations' && data) {
          turn = growingTurn(question, data.citations || []);
          $('conversation').append(turn.node);
          turn.node.scrollIntoView({ block: 'nearest' });
        } else if (name === 'answer' && turn && data) {
          turn.grow(data.text || '');
        } else if (name === 'done' && data) {
          const entry = { ...data, question, createdAt: new Date().toISOString() };
          const node = turn ? turn.finish(entry) : turnNode(entry);
          if (!turn) $('conversation').append(node);
          node.scrollIntoView({ block: 'nearest' });
          settle(data.conversationId);
          answered = true;
          announce('Answer ready.');
        } else if (name === 'error') {
          // The stream's own failure: the status was 200, the code says what.
          throw errorFrom(500, data, null);
        }
      });
      if (!answered) throw new ApiError(0, 'network', 'The connection broke off before the answer was complete. Please ask again.');
      historyIsStale();
    } catch (error) {
      if (moot(error)) return;
      if (turn) turn.fail(error.message, error.code === 'content_filtered');
      errorBox.textContent = error.message;
      show(errorBox, true);
    } finally {
      button.disabled = false;
      button.textContent = 'Ask';
    }
  }

  function newConversation() {
    resetConversation();
    $('question-label').textContent = 'Your question';
    announce('New conversation.');
    $('question').focus();
  }

  // ---------------------------------------------------------------- history

  function historyIsStale() {
    state.historyLoaded = false;
    if ($('history').open) loadHistory(false);
  }

  async function loadHistory(more) {
    const list = $('history-list');
    const button = $('history-more');
    button.disabled = true;
    try {
      const cursor = more && state.historyCursor ? `&cursor=${encodeURIComponent(state.historyCursor)}` : '';
      const page = await api('GET', `/query/history?limit=20${cursor}`);
      if (!more) list.replaceChildren();
      for (const item of page.items) list.append(historyNode(item));
      state.historyCursor = page.nextCursor;
      state.historyLoaded = true;
      show(button, Boolean(page.nextCursor));
      show($('history-empty'), list.children.length === 0);
    } catch (error) {
      if (!moot(error)) showBanner(error.message);
    } finally {
      button.disabled = false;
    }
  }

  function historyNode(item) {
    const preview = item.answer.length > 220 ? `${item.answer.slice(0, 220)}…` : item.answer;
    return el('li', { class: 'history-item' },
      el('p', { class: 'question' }, item.question),
      el('p', { class: 'muted' }, `${formatDate(item.createdAt)} · ${plural(item.citations.length, 'source', 'sources')}`),
      el('p', { class: 'answer-preview' }, preview),
      el('button', {
        type: 'button',
        class: 'link',
        onclick: () => openConversation(item.conversationId),
      }, 'Open this conversation', el('span', { class: 'visually-hidden' }, `: ${item.question}`)));
  }

  async function openConversation(conversationId) {
    try {
      const page = await api('GET', `/query/history?limit=100&conversationId=${encodeURIComponent(conversationId)}`);
      resetConversation();
      state.conversationId = conversationId;
      const turns = [...page.items].reverse();
      $('conversation').append(...turns.map(turnNode));
      show($('new-conversation'), true);
      $('question-label').textContent = 'Follow-up question';
      announce(`Conversation opened: ${plural(turns.length, 'question', 'questions')}.`);
      $('question').focus();
    } catch (error) {
      if (!moot(error)) showBanner(error.message);
    }
  }

  // ---------------------------------------------------------------- start

  function bind() {
    $('auth-form').addEventListener('submit', submitAuth);
    $('auth-switch').addEventListener('click', () => {
      setAuthMode(state.authMode === 'login' ? 'register' : 'login');
      $('auth-email').focus();
    });
    $('logout').addEventListener('click', logout);
    $('docs-more').addEventListener('click', loadMoreDocuments);
    $('confirm').addEventListener('close', afterConfirm);
    $('ask-form').addEventListener('submit', ask);
    $('question').addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.ctrlKey && !event.altKey && !event.metaKey && !event.isComposing) {
        event.preventDefault();
        $('ask-form').requestSubmit();
      }
    });
    $('new-conversation').addEventListener('click', newConversation);
    $('clear-scope').addEventListener('click', clearScope);
    $('history').addEventListener('toggle', () => {
      if ($('history').open && !state.historyLoaded) loadHistory(false);
    });
    $('history-more').addEventListener('click', () => loadHistory(true));
    bindDropzone();
  }

  async function start() {
    bind();
    const config = await loadConfig();
    state.api = config.api;
    state.signIn = config.signIn;
    showSignInButtons();
    if (isSignInReturn()) {
      // Shown first, so a failed sign-in can say why on it.
      setAuthMode('login');
      show($('auth-view'), true);
      await finishSignIn();
      return;
    }
    const session = savedSession();
    if (session) {
      state.token = session.token;
      try {
        const profile = await api('GET', '/auth/profile');
        startSession({ ...session, user: { ...session.user, ...profile } });
        return;
      } catch (error) {
        state.token = null;
        if (error.status !== 401) showBanner(error.message);
      }
    }
    setAuthMode('login');
    show($('auth-view'), true);
  }

  start();
})();
