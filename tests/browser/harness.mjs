// What the browser tests share: waiting for the page, and running `askdocs serve`.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { createWriteStream, existsSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = resolve(ROOT, process.env.ASKDOCS_BIN || 'target/debug/askdocs');
export const ARTIFACTS = join(ROOT, 'target/browser-artifacts');

/** Waits until `check` returns something truthy, or fails with `what`. */
export async function until(what, check, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeout / 1000} s waiting until ${what}${last ? ` (${last.message.split('\n')[0]})` : ''}`);
}

/** Starts `askdocs serve --port 0` and reads its URL from the first line it prints. */
export async function startAskdocs(dataDir, publicUrl, { settings = {}, log: logName = 'askdocs.log' } = {}) {
  if (!existsSync(BIN)) {
    throw new Error(`the askdocs binary is missing at ${BIN}: build it (cargo build) or set ASKDOCS_BIN`);
  }
  const log = createWriteStream(join(ARTIFACTS, logName));
  const env = { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', LOG_FORMAT: 'text', ...settings };
  if (publicUrl) env.ASKDOCS_PUBLIC_URL = publicUrl;
  const child = spawn(BIN, ['serve', '--port', '0', '--data-dir', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log);
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`askdocs serve printed no URL within 120 s (see target/browser-artifacts/${logName})`)), 120000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`askdocs serve exited (code ${code}) before listening; see target/browser-artifacts/${logName}`));
    });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^askdocs listening on (http:\/\/\S+)$/.exec(line.trim());
      if (match) resolvePromise(match[1]);
      else reject(new Error(`askdocs serve's first line is not "askdocs listening on http://…": ${JSON.stringify(line)}`));
    });
  });
  lines.on('line', (line) => log.write(`[stdout] ${line}\n`));
  return { url, child };
}

export async function stop(child) {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}


/**
 * The steps of one story: `step(name, body)` runs `body` as a subtest; after
 * a failure the rest are skipped, with a screenshot of where it stopped
 * (`page()` gives the page, once there is one) and where the server log is.
 */
export function storySteps(t, { page, prefix = 'failed', log = 'askdocs.log' }) {
  let failed = false;
  return (name, body) => t.test(name, async (s) => {
    if (failed) return s.skip('an earlier step failed');
    try {
      await body();
    } catch (error) {
      failed = true;
      const file = `${prefix}-${name.replace(/[^a-z0-9]+/gi, '-')}`;
      const current = page();
      if (current) await current.screenshot({ path: join(ARTIFACTS, `${file}.png`), fullPage: true }).catch(() => {});
      throw new Error(`step "${name}" failed: ${error.message}\n  screenshot: target/browser-artifacts/${file}.png; server log: target/browser-artifacts/${log}`, { cause: error });
    }
  });
}
