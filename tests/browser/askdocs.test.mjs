// The askdocs web page in a real browser (Debian's headless Chromium, driven by
// playwright-core) against a real `askdocs serve` on a free port: GIVEN a new
// person, WHEN they register, upload, ask, follow up, delete and log out,
// THEN they see what they should, on a desktop and on a phone.
//
// Environment:
//   ASKDOCS_BIN            the askdocs binary (default target/debug/askdocs)
//   CHROMIUM               the browser (default /usr/bin/chromium)
//   ASKDOCS_WEB_FROM_DISK  1: serve web/ from disk through a same-origin proxy
//                          instead of the page embedded in the binary
// Screenshots and logs go to target/browser-artifacts/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile, readFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';
import { startWebProxy } from './web-proxy.mjs';
import { until, startAskdocs, stop, storySteps, ARTIFACTS } from './harness.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BROWSER = process.env.CHROMIUM || '/usr/bin/chromium';
const FIXTURES = join(ROOT, 'tests/fixtures');
const FROM_DISK = process.env.ASKDOCS_WEB_FROM_DISK === '1';
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const PASSWORD = 'Correct1horse';
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/** The answer as filed: a JSON body, or the data of a stream's `done` event. */
function filedAnswer(body) {
  const done = body.split(/\r?\n\r?\n/).find((block) => block.startsWith('event: done'));
  if (!done) return JSON.parse(body);
  return JSON.parse(done.split(/\r?\n/).filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trim()).join('\n'));
}

test('a person uses askdocs in a real browser', { timeout: 300000 }, async (t) => {
  await rm(ARTIFACTS, { recursive: true, force: true });
  await mkdir(ARTIFACTS, { recursive: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'askdocs-browser-data-'));
  const profileDir = await mkdtemp(join(tmpdir(), 'askdocs-browser-profile-'));
  let server;
  let proxy;
  let context;
  const problems = []; // console errors, page errors, failed requests
  const requests = []; // every URL the page asked for
  const asks = []; // POST /query/ask bodies and Accept headers

  t.after(async () => {
    if (context) await context.close().catch(() => {});
    if (proxy) await proxy.close().catch(() => {});
    await stop(server && server.child);
    await rm(dataDir, { recursive: true, force: true });
    await rm(profileDir, { recursive: true, force: true });
  });

  let page;
  const shot = async (name, fullPage = true) => {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });
  };
  /** One step of the story; after a failure the rest are skipped, with a screenshot of where it stopped. */
  const step = storySteps(t, { page: () => page });

  let url;
  const email = `reader-${Date.now()}@example.com`;

  await step('askdocs serve starts and serves the page at /', async () => {
    if (FROM_DISK) {
      proxy = await startWebProxy(join(ROOT, 'web'));
      server = await startAskdocs(dataDir, proxy.url);
      proxy.setBackend(server.url);
      url = proxy.url;
    } else {
      server = await startAskdocs(dataDir);
      url = server.url;
    }
    const response = await fetch(`${url}/`);
    const body = await response.text();
    assert.ok(
      response.ok && /text\/html/.test(response.headers.get('content-type') || '') && body.includes('app.js'),
      `GET / answered ${response.status} ${response.headers.get('content-type')}, not the web page ` +
        '(the binary must embed web/; ASKDOCS_WEB_FROM_DISK=1 tests web/ through a proxy instead)',
    );
  });

  await step('Chromium starts', async () => {
    if (!existsSync(BROWSER)) throw new Error(`no browser at ${BROWSER}: apt-get install chromium (scripts/browser-test.sh does)`);
    context = await chromium.launchPersistentContext(profileDir, {
      executablePath: BROWSER,
      headless: true,
      args: [
        '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
      viewport: DESKTOP,
      acceptDownloads: true,
      locale: 'en-GB',
      timezoneId: 'UTC',
    });
    page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(15000);
    page.on('console', (message) => {
      if (message.type() !== 'error') return;
      const where = message.location().url || '';
      // The API's 4xx answers (a weak password, a 429) are logged by the browser
      // as failed resources; they are expected here, and read by the page.
      if (message.text().startsWith('Failed to load resource:')) return;
      problems.push(`console: ${message.text()} ${where}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('request', (request) => {
      requests.push(request.url());
      if (request.url().endsWith('/query/ask') && request.method() === 'POST') {
        asks.push({ sent: request.postDataJSON(), accept: request.headers().accept });
      }
    });
    // What each ask answered, read in the page from a copy of the response
    // (the page streams the original): the network events of a streamed
    // body, read by the page as it arrives, are not always reported.
    await context.addInitScript(() => {
      window.askAnswers = [];
      const fetchOriginal = window.fetch;
      window.fetch = async (...args) => {
        const response = await fetchOriginal(...args);
        const target = typeof args[0] === 'string' ? args[0] : args[0].url;
        if (target.endsWith('/query/ask')) {
          const record = { body: null };
          window.askAnswers.push(record);
          response.clone().text().then((body) => { record.body = body; }, (error) => { record.body = `failed: ${error}`; });
        }
        return response;
      };
    });
  });

  /** The asks' answers as filed, in order (null while one is still arriving). */
  async function filedAnswers() {
    const bodies = await page.evaluate(() => (window.askAnswers || []).map((record) => record.body));
    return bodies.map((body) => (body === null ? null : filedAnswer(body)));
  }

  await step('the page opens on "Log in", with no request to another origin', async () => {
    await page.goto(url);
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await shot('desktop-1-login');
  });

  await step('a weak password is refused with the API\'s reason', async () => {
    await page.getByRole('button', { name: 'Create an account' }).click();
    await page.getByRole('heading', { name: 'Create an account' }).waitFor();
    await page.getByLabel('Name').fill('Ada Reader');
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill('alllowercase1');
    await page.getByRole('button', { name: 'Create account' }).click();
    const alert = page.locator('#auth-error');
    await alert.waitFor();
    const text = await alert.innerText();
    assert.match(text, /^Password .*upper-case/i, `the error shown was ${JSON.stringify(text)}`);
  });

  await step('registering logs the person in', async () => {
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Your documents' }).waitFor();
    assert.equal(await page.locator('#account-name').innerText(), 'Ada Reader');
  });

  await step('logging out and in again', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    await page.getByLabel('Email').fill(email);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Your documents' }).waitFor();
    await page.getByText('No documents yet').waitFor();
  });

  await step('too many attempts (429) read as when to try again', async () => {
    // A second page, logged out, whose login answers as a rate-limited server would.
    const other = await context.newPage();
    await other.route('**/auth/login', (route) => route.fulfill({
      status: 429,
      headers: { 'Content-Type': 'application/json', 'Retry-After': '30' },
      body: '{"error":{"code":"rate_limited","message":"too many login attempts"}}',
    }));
    await other.goto(url);
    // sessionStorage is per tab: this one starts logged out.
    await other.getByRole('heading', { name: 'Log in' }).waitFor();
    await other.getByLabel('Email').fill(email);
    await other.getByLabel('Password').fill(PASSWORD);
    await other.getByRole('button', { name: 'Log in' }).click();
    // The message appears once the (routed) response arrives: wait for it, never read it early.
    const error = other.locator('#auth-error');
    await error.filter({ hasText: /\S/ }).waitFor();
    assert.equal(await error.innerText(), 'Too many login attempts. Try again in 30 seconds.');
    await other.close();
  });

  await step('two files chosen at once upload with progress and become ready', async () => {
    await page.locator('#file-input').setInputFiles([join(FIXTURES, 'lighthouse.pdf'), join(FIXTURES, 'guide.md')]);
    await page.locator('.upload').first().waitFor();
    assert.ok(await page.locator('.upload progress').count() >= 1, 'no progress bar per upload');
    const pdf = page.locator('.doc', { hasText: 'lighthouse.pdf' });
    await until('lighthouse.pdf shows Ready', async () => (await pdf.locator('.badge').innerText()) === 'Ready', 90000);
    const meta = await pdf.locator('.doc-meta').innerText();
    assert.match(meta, /3 pages · \d+ passages? · 1\.6 KB · uploaded /, `the document's details read ${JSON.stringify(meta)}`);
    const md = page.locator('.doc', { hasText: 'guide.md' });
    await until('guide.md shows Ready', async () => (await md.locator('.badge').innerText()) === 'Ready', 90000);
  });

  await step('a file dropped on the drop zone uploads too', async () => {
    const bytes = [...(await readFile(join(FIXTURES, 'notes.txt')))];
    await page.evaluate((content) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([new Uint8Array(content)], 'notes.txt', { type: 'text/plain' }));
      const zone = document.getElementById('dropzone');
      for (const type of ['dragenter', 'dragover', 'drop']) {
        zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
      }
    }, bytes);
    const notes = page.locator('.doc', { hasText: 'notes.txt' });
    await until('notes.txt shows Ready', async () => (await notes.locator('.badge').innerText()) === 'Ready', 90000);
    await until('the finished uploads leave the upload list', async () => (await page.locator('.upload').count()) === 0, 15000);
    await until('the storage line counts the three documents',
      async () => /^Using 3 of 1000 documents · [\d.]+ KB of 1024\.0 MB$/.test(await page.locator('#storage').innerText()), 15000);
    await shot('desktop-2-documents');
  });

  await step('a file of a kind askdocs does not read is refused in words', async () => {
    await page.locator('#file-input').setInputFiles({ name: 'animation.gif', mimeType: 'image/gif', buffer: Buffer.from('GIF89a') });
    const row = page.locator('.upload', { hasText: 'animation.gif' });
    await row.waitFor();
    assert.match(await row.locator('.upload-status').innerText(), /Not a file askdocs reads/);
    await row.getByRole('button', { name: 'Dismiss' }).click();
    await until('the refused upload is dismissed', async () => (await row.count()) === 0);
  });

  await step('downloading gives back the file', async () => {
    const downloaded = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download guide.md' }).click();
    const download = await downloaded;
    assert.equal(download.suggestedFilename(), 'guide.md');
    const saved = await readFile(await download.path());
    assert.deepEqual(saved, await readFile(join(FIXTURES, 'guide.md')));
  });

  await step('asking gives an answer whose citation opens the passage', async () => {
    // What the page shows, in order, while the answer streams in.
    await page.evaluate(() => {
      window.shown = [];
      // Records come in the order the page changed; a replaced paragraph
      // keeps the text it had when it was taken out.
      new MutationObserver((records) => {
        for (const record of records) {
          for (const node of record.removedNodes) {
            if (node instanceof HTMLElement && node.matches('.answer-text')) {
              window.shown.push(`replaced text=${node.textContent.length}`);
            }
          }
          for (const node of record.addedNodes) {
            if (!(node instanceof HTMLElement)) continue;
            if (node.matches('.turn')) {
              const found = node.querySelector('.sources-title');
              window.shown.push(`turn sources=${found ? found.textContent : 'none'}`);
            } else if (node.matches('.answer-text.growing')) {
              window.shown.push(`text=${node.textContent.length}`);
            }
          }
        }
      }).observe(document.getElementById('conversation'), { childList: true, subtree: true });
    });
    await page.getByLabel('Your question').fill('What does error code E-4012 mean?');
    await page.getByLabel('Your question').press('Enter');
    const turn = page.locator('.turn').first();
    await turn.waitFor({ timeout: 60000 });
    await until('the answer is complete', async () => (await turn.locator('.answer-text.growing').count()) === 0 && (await turn.locator('.sources-title').innerText()) === 'Sources', 60000);
    // The passages found came first, then the text grew, then the answer as filed.
    const shown = await page.evaluate(() => window.shown);
    assert.deepEqual(shown.slice(0, 2), ['turn sources=Passages found', 'replaced text=0'], `the page showed ${JSON.stringify(shown)}`);
    assert.match(shown[2], /^text=[1-9]/, `the text never grew: ${JSON.stringify(shown)}`);
    assert.equal(shown[shown.length - 1], 'turn sources=Sources', `the page showed ${JSON.stringify(shown)}`);
    await until('the ask was recorded', async () => asks.length === 1 && (await filedAnswers())[0]);
    const [filed] = await filedAnswers();
    assert.ok(filed.queryId, `the stream held no answer as filed: ${JSON.stringify(filed)}`);
    assert.equal(asks[0].accept, 'text/event-stream', 'the page did not ask for a stream');
    const answer = await turn.locator('.answer-text').innerText();
    assert.match(answer, /fog pump stalled/, `the answer was ${JSON.stringify(answer)}`);
    const cite = turn.locator('a.cite').first();
    assert.ok(await cite.count(), `the answer has no citation link: ${JSON.stringify(answer)}`);
    const number = await cite.innerText();
    // By keyboard: the citation is a link.
    await cite.focus();
    await page.keyboard.press('Enter');
    const source = turn.locator(`#${await cite.getAttribute('href').then((h) => h.slice(1))}`);
    await until('the cited source is open', async () => source.locator('details').evaluate((d) => d.open));
    const summary = await source.locator('summary').innerText();
    assert.match(summary, new RegExp(`^\\[${number}\\] lighthouse\\.pdf, page 2$`), `the source reads ${JSON.stringify(summary)}`);
    const passage = source.locator('.passage');
    assert.ok(await passage.isVisible(), 'the passage is not visible');
    const marked = await passage.locator('mark').innerText();
    assert.match(marked, /E-4012/, `the highlighted sentence is ${JSON.stringify(marked)}`);
    assert.equal(await page.evaluate(() => document.activeElement.tagName), 'SUMMARY', 'focus did not move to the source');
    await shot('desktop-3-answer');
  });

  await step('a follow-up, limited to one document, stays in the conversation', async () => {
    await page.getByRole('checkbox', { name: 'lighthouse.pdf' }).check();
    assert.match(await page.locator('#scope').innerText(), /Asking only this document: lighthouse\.pdf/);
    await page.getByLabel('Follow-up question').fill('Who collects the harbour fee?');
    await page.getByRole('button', { name: 'Ask', exact: true }).click();
    await until('a second answer appears', async () => (await page.locator('.turn').count()) === 2, 60000);
    // The follow-up's own answer is on the page (checked below); only the
    // first answer's conversation is needed from the network.
    await until('both questions were recorded', async () => asks.length === 2 && (await filedAnswers())[0], 60000);
    const [first, second] = asks;
    const [firstAnswer] = await filedAnswers();
    assert.equal(second.sent.conversationId, firstAnswer.conversationId, 'the follow-up did not continue the conversation');
    assert.equal(first.sent.documentIds, undefined);
    assert.equal(second.sent.documentIds.length, 1);
    const answer = await page.locator('.turn').nth(1).locator('.answer-text').innerText();
    assert.ok(answer.length > 0, 'the follow-up has no answer');
  });

  await step('the history lists both questions and reopens the conversation', async () => {
    await page.getByRole('button', { name: 'New conversation' }).click();
    assert.equal(await page.locator('.turn').count(), 0);
    await page.locator('#history > summary').click();
    const items = page.locator('.history-item');
    await until('two history items show', async () => (await items.count()) === 2);
    assert.match(await items.first().locator('.question').innerText(), /harbour fee/);
    await items.first().getByRole('button', { name: /Open this conversation/ }).click();
    await until('the conversation is back', async () => (await page.locator('.turn').count()) === 2);
    assert.match(await page.locator('.turn').first().locator('.question').innerText(), /E-4012/);
  });

  await step('the page passes axe (WCAG 2 AA), light and dark', async () => {
    const axe = await readFile(AXE, 'utf8');
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      await page.locator('.turn details').first().evaluate((d) => { d.open = true; });
      await page.evaluate(axe);
      const violations = await page.evaluate(async () => {
        const result = await window.axe.run(document, { runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] });
        return result.violations.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
      });
      assert.deepEqual(violations, [], `axe found problems in ${colorScheme} mode`);
    }
    await shot('desktop-4-dark');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  await step('on a phone the page fits the screen', async () => {
    await page.setViewportSize(PHONE);
    await page.locator('#docs-title').scrollIntoViewIfNeeded();
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone's screen`);
    await shot('phone-1-documents-and-answer');
    await page.setViewportSize(DESKTOP);
  });

  await step('deleting asks first, then removes the document', async () => {
    const pdf = page.locator('.doc', { hasText: 'lighthouse.pdf' });
    await page.getByRole('button', { name: 'Delete lighthouse.pdf' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this document?' });
    await dialog.waitFor();
    await shot('desktop-5-delete-dialog', false);
    assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Keep it', 'the dialog does not start on "Keep it"');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await pdf.count(), 1, 'Escape removed the document');
    assert.match(await page.evaluate(() => document.activeElement.textContent), /^Delete lighthouse\.pdf/, 'focus did not return to the Delete button');
    await page.getByRole('button', { name: 'Delete lighthouse.pdf' }).click();
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await until('lighthouse.pdf leaves the list', async () => (await pdf.count()) === 0);
    await page.reload();
    await page.getByRole('heading', { name: 'Your documents' }).waitFor();
    await page.locator('.doc', { hasText: 'guide.md' }).waitFor();
    assert.equal(await pdf.count(), 0, 'lighthouse.pdf came back after a reload');
  });

  await step('logging out forgets the token', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Log in' }).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem('askdocs.session')), null);
    await page.setViewportSize(PHONE);
    await shot('phone-2-logged-out');
  });

  await step('no error in the console, and no request left this origin or carried a token in its URL', async () => {
    const origin = new URL(url).origin;
    const foreign = requests.filter((r) => !r.startsWith(origin) && !r.startsWith('data:') && !r.startsWith('blob:'));
    assert.deepEqual(foreign, [], 'the page asked another origin');
    const tokenish = requests.filter((r) => /token|eyJ[A-Za-z0-9_-]{10,}\./.test(r));
    assert.deepEqual(tokenish, [], 'a URL carried a token');
    assert.deepEqual(problems, [], 'the browser reported errors');
  });

  await writeFile(join(ARTIFACTS, 'requests.txt'), `${requests.join('\n')}\n`);
});
