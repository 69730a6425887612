// Federated sign-in in a real browser: `askdocs serve` trusts an OpenID
// Connect issuer (ASKDOCS_OIDC_ISSUER; a stand-in on loopback that runs the
// authorization code + PKCE flow and signs real RS256 ID tokens). GIVEN the
// page offers "Sign in with Test ID", WHEN a person signs in there, THEN they
// upload and ask like anyone; logging out revokes their token for the API,
// revokes the refresh token and ends the issuer's session; the next person
// never sees the first one's documents.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { until, startAskdocs, stop, storySteps, ARTIFACTS } from './harness.mjs';
import { startIssuer, PEOPLE } from './oidc-standin.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BROWSER = process.env.CHROMIUM || '/usr/bin/chromium';
const FIXTURES = join(ROOT, 'tests/fixtures');
const CLIENT_ID = 'askdocs-local';

test('a person signs in through an OpenID Connect issuer', { timeout: 240000 }, async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'askdocs-sign-in-data-'));
  let url = '';
  const issuer = await startIssuer({ clientId: CLIENT_ID, redirects: (uri) => uri === `${url}/` });
  let server;
  let browser;
  const problems = [];

  t.after(async () => {
    if (browser) await browser.close().catch(() => {});
    await stop(server && server.child);
    await issuer.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  let page;
  const step = storySteps(t, { page: () => page, prefix: 'failed-sign-in', log: 'askdocs-sign-in.log' });
  const session = () => page.evaluate(() => JSON.parse(sessionStorage.getItem('askdocs.session') || 'null'));
  const api = async (path, token) => {
    const response = await fetch(`${url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
    return { status: response.status, body: await response.json().catch(() => null) };
  };
  const signInAs = async (who) => {
    await page.getByRole('button', { name: 'Sign in with Test ID' }).click();
    await page.getByRole('heading', { name: 'Test ID sign-in' }).waitFor();
    assert.ok(page.url().startsWith(`${issuer.issuer}/authorize?`), `the browser went to ${page.url()}`);
    await page.getByRole('link', { name: `Continue as ${PEOPLE[who].name}` }).click();
    await page.getByRole('heading', { name: 'Your documents' }).waitFor();
  };

  await step('askdocs serve starts trusting the issuer, and its page offers it', async () => {
    server = await startAskdocs(dataDir, undefined, {
      log: 'askdocs-sign-in.log',
      settings: { ASKDOCS_OIDC_ISSUER: issuer.issuer, ASKDOCS_OIDC_CLIENT_ID: CLIENT_ID, ASKDOCS_OIDC_NAME: 'Test ID' },
    });
    url = server.url;
    const config = await (await fetch(`${url}/config.json`)).json();
    assert.equal(config.signIn.clientId, CLIENT_ID);
    assert.equal(config.signIn.tokenUrl, `${issuer.issuer}/token`);
    // The page may call the issuer's token endpoint, and nothing else off its origin.
    const csp = (await fetch(`${url}/`)).headers.get('content-security-policy');
    assert.match(csp, new RegExp(`connect-src 'self' ${issuer.issuer}[ ;]`), csp);
  });

  await step('Chromium starts', async () => {
    if (!existsSync(BROWSER)) throw new Error(`no browser at ${BROWSER}: apt-get install chromium (scripts/browser-test.sh does)`);
    browser = await chromium.launch({
      executablePath: BROWSER,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking'],
    });
    page = await (await browser.newContext({ locale: 'en-GB', timezoneId: 'UTC' })).newPage();
    page.setDefaultTimeout(15000);
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (process.env.DEBUG_SIGN_IN) console.error(`[page ${message.type()}] ${message.text()}`);
      if (message.type() === 'error' && !message.text().startsWith('Failed to load resource:')) problems.push(`console: ${message.text()}`);
    });
  });

  await step('Alice signs in with Test ID (code + PKCE) and lands in her documents', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await signInAs('alice');
    assert.equal(await page.locator('#account-name').innerText(), 'Alice Example');
    const [asked] = issuer.seen.authorizations;
    assert.equal(asked.code_challenge_method, 'S256');
    assert.equal(asked.redirect_uri, `${url}/`);
    assert.equal(asked.identity_provider, undefined, 'a plain OpenID Connect issuer gets no identity_provider');
    // The code is gone from the address bar and the history.
    assert.equal(new URL(page.url()).search, '');
    const { token, user } = await session();
    assert.equal(user.provider, 'Test ID');
    assert.equal(user.email, 'alice@example.com');
    assert.equal(token, issuer.seen.issued[0], 'the session is the issuer\'s ID token');
  });

  await step('she uploads a document and asks about it', async () => {
    await page.locator('#file-input').setInputFiles([join(FIXTURES, 'guide.md')]);
    const doc = page.locator('.doc', { hasText: 'guide.md' });
    await until('guide.md shows Ready', async () => (await doc.locator('.badge').innerText()) === 'Ready', 90000);
    await page.getByLabel('Your question').fill('Which port do I open after make run?');
    await page.getByLabel('Your question').press('Enter');
    const turn = page.locator('.turn').first();
    await until('the answer is complete', async () => (await turn.locator('.sources-title').innerText()) === 'Sources', 60000);
    assert.match(await turn.locator('.answer-text').innerText(), /3000/);
  });

  await step('a phone photo of a page becomes ready and its answer cites it', async () => {
    await page.locator('#file-input').setInputFiles([join(FIXTURES, 'page-photo.png')]);
    const doc = page.locator('.doc', { hasText: 'page-photo.png' });
    await until('page-photo.png shows Ready', async () => (await doc.locator('.badge').innerText()) === 'Ready', 90000);
    await page.getByLabel('Follow-up question').fill('What does error code E-4012 mean?');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    const turn = page.locator('.turn').nth(1);
    await until('the answer is complete', async () => (await turn.locator('.sources-title').innerText()) === 'Sources', 60000);
    assert.match(await turn.locator('.answer-text').innerText(), /fog pump/);
    assert.match(await turn.locator('.sources').innerText(), /page-photo\.png/);
  });

  let alicesToken;
  await step('logging out revokes her token for the API and ends the issuer\'s session', async () => {
    const before = await session();
    alicesToken = before.token;
    assert.equal((await api('/auth/profile', alicesToken)).status, 200);
    await page.getByRole('button', { name: 'Log out' }).click();
    await until('the issuer saw the sign-out', async () => issuer.seen.logouts === 1);
    await page.waitForURL(`${url}/`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    assert.deepEqual(issuer.seen.revoked, [before.federated.refreshToken]);
    const after = await api('/auth/profile', alicesToken);
    assert.equal(after.status, 401, JSON.stringify(after.body));
    assert.equal(after.body.error.code, 'unauthorized');
  });

  await step('Bob signs in next and sees none of Alice\'s documents', async () => {
    await signInAs('bob');
    assert.equal(await page.locator('#account-name').innerText(), 'Bob Example');
    await page.getByText('No documents yet').waitFor();
    const { token } = await session();
    const listed = await api('/documents', token);
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.documents, []);
  });

  await step('a return to the page the page did not start is refused in words', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await until('the issuer saw the second sign-out', async () => issuer.seen.logouts === 2);
    await page.waitForURL(`${url}/`);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.goto(`${url}/?code=stolen-code&state=made-up`);
    const alert = page.locator('#auth-error');
    await alert.filter({ hasText: /\S/ }).waitFor();
    assert.match(await alert.innerText(), /not started from this page/);
    assert.equal(await session(), null);
  });

  await step('no page errors', async () => {
    assert.deepEqual(problems, []);
  });
});
