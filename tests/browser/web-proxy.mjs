// Serves web/ from disk and forwards everything else to an `askdocs serve`, on
// one origin — for working on the page without rebuilding the binary that
// embeds it (ASKDOCS_WEB_FROM_DISK=1 in the browser test).
import { createServer, request } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

const PAGES = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/style.css': ['style.css', 'text/css; charset=utf-8'],
};

// The headers recommended for the page when askdocs serve embeds it.
export const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** Starts the proxy on a free port; call setBackend(url) before the first API request. */
export async function startWebProxy(webDir) {
  let backend = null;
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname;
    const page = req.method === 'GET' || req.method === 'HEAD' ? PAGES[path] : undefined;
    if (page) {
      try {
        const body = await readFile(join(webDir, page[0]));
        res.writeHead(200, { 'Content-Type': page[1], 'Content-Length': body.length, ...PAGE_HEADERS });
        res.end(req.method === 'HEAD' ? undefined : body);
      } catch (error) {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      }
      return;
    }
    if (!backend) {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      res.end('{"error":{"code":"unavailable","message":"askdocs is not running yet"}}');
      return;
    }
    const headers = { ...req.headers, host: backend.host };
    if (headers.origin) headers.origin = backend.origin;
    const upstream = request(
      { host: backend.hostname, port: backend.port, method: req.method, path: req.url, headers },
      (answer) => {
        res.writeHead(answer.statusCode, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      res.writeHead(502, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'bad_gateway', message: String(error.message) } }));
    });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    setBackend(url) {
      backend = new URL(url);
    },
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
