// A stand-in OpenID Connect issuer for the sign-in test: the authorization
// code flow with PKCE (RFC 7636) as Cognito's managed login, Keycloak or
// Google run it, on loopback. Its sign-in page lists test people to click;
// the token endpoint checks the code, client, redirect URI and code verifier
// and answers with a real RS256 ID token, which askdocs checks against the
// keys published here. It records what it was asked, so the test can tell
// that logout revoked the refresh token and ended the issuer's session.
import { createServer } from 'node:http';
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto';

const base64url = (buffer) => Buffer.from(buffer).toString('base64url');

export const PEOPLE = {
  alice: { sub: 'alice-0001', email: 'alice@example.com', name: 'Alice Example' },
  bob: { sub: 'bob-0002', email: 'bob@example.com', name: 'Bob Example' },
};

/** Starts the issuer; `clientId` is the only client it knows, `redirects` its allowed return addresses. */
export async function startIssuer({ clientId, redirects = () => true }) {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = `test-${randomBytes(4).toString('hex')}`;
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const codes = new Map(); // code -> { person, challenge, redirectUri }
  const seen = { authorizations: [], tokens: 0, revoked: [], logouts: 0, issued: [] };
  let issuer = '';

  const idToken = (person) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
    const claims = base64url(JSON.stringify({
      iss: issuer, sub: person.sub, aud: clientId, iat: now, exp: now + 3600,
      email: person.email, name: person.name, jti: randomBytes(8).toString('hex'),
    }));
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), privateKey);
    return `${header}.${claims}.${base64url(signature)}`;
  };

  const answer = (response, status, body, headers = {}) => {
    response.writeHead(status, { 'Access-Control-Allow-Origin': '*', 'Cache-Control': 'no-store', ...headers });
    response.end(body);
  };
  const json = (response, status, value) => answer(response, status, JSON.stringify(value), { 'Content-Type': 'application/json' });
  const form = async (request) => {
    let body = '';
    for await (const chunk of request) body += chunk;
    return new URLSearchParams(body);
  };

  const server = createServer(async (request, response) => {
    const url = new URL(request.url, issuer);
    if (request.method === 'GET' && url.pathname === '/.well-known/openid-configuration') {
      return json(response, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        revocation_endpoint: `${issuer}/revoke`,
        end_session_endpoint: `${issuer}/logout`,
        jwks_uri: `${issuer}/keys`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        id_token_signing_alg_values_supported: ['RS256'],
      });
    }
    if (request.method === 'GET' && url.pathname === '/keys') return json(response, 200, { keys: [jwk] });
    if (request.method === 'GET' && url.pathname === '/authorize') {
      const query = url.searchParams;
      seen.authorizations.push(Object.fromEntries(query));
      const fine = query.get('response_type') === 'code' && query.get('client_id') === clientId &&
        redirects(query.get('redirect_uri')) && query.get('code_challenge_method') === 'S256' &&
        /^[A-Za-z0-9_-]{43}$/.test(query.get('code_challenge') || '') && query.get('state');
      if (!fine) return answer(response, 400, 'bad authorization request', { 'Content-Type': 'text/plain' });
      const choices = Object.keys(PEOPLE).map((who) => {
        const next = new URLSearchParams(query);
        next.set('who', who);
        return `<li><a href="/approve?${next.toString().replace(/&/g, '&amp;')}">Continue as ${PEOPLE[who].name}</a></li>`;
      }).join('');
      return answer(response, 200, `<!doctype html><title>Test ID</title><h1>Test ID sign-in</h1><ul>${choices}</ul>`,
        { 'Content-Type': 'text/html; charset=utf-8' });
    }
    if (request.method === 'GET' && url.pathname === '/approve') {
      const query = url.searchParams;
      const person = PEOPLE[query.get('who')];
      if (!person || !redirects(query.get('redirect_uri'))) return answer(response, 400, 'bad approval');
      const code = randomBytes(16).toString('hex');
      codes.set(code, { person, challenge: query.get('code_challenge'), redirectUri: query.get('redirect_uri') });
      const back = new URL(query.get('redirect_uri'));
      back.searchParams.set('code', code);
      back.searchParams.set('state', query.get('state'));
      return answer(response, 302, '', { Location: back.toString() });
    }
    if (request.method === 'POST' && url.pathname === '/token') {
      const body = await form(request);
      seen.tokens += 1;
      const grant = codes.get(body.get('code') || '');
      codes.delete(body.get('code') || ''); // a code works once
      const verifier = body.get('code_verifier') || '';
      const proof = base64url(createHash('sha256').update(verifier).digest());
      if (!grant || body.get('grant_type') !== 'authorization_code' || body.get('client_id') !== clientId ||
          body.get('redirect_uri') !== grant.redirectUri || proof !== grant.challenge) {
        return json(response, 400, { error: 'invalid_grant', error_description: 'the code, client, redirect or verifier is wrong' });
      }
      const token = idToken(grant.person);
      seen.issued.push(token);
      return json(response, 200, {
        id_token: token, access_token: randomBytes(16).toString('hex'), token_type: 'Bearer',
        expires_in: 3600, refresh_token: `refresh-${grant.person.sub}-${randomBytes(8).toString('hex')}`,
      });
    }
    if (request.method === 'POST' && url.pathname === '/revoke') {
      const body = await form(request);
      if (body.get('client_id') === clientId && body.get('token')) seen.revoked.push(body.get('token'));
      return answer(response, 200, '');
    }
    if (request.method === 'GET' && url.pathname === '/logout') {
      seen.logouts += 1;
      const back = url.searchParams.get('post_logout_redirect_uri');
      if (!back || !redirects(back)) return answer(response, 400, 'bad logout');
      return answer(response, 302, '', { Location: back });
    }
    return answer(response, 404, 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${server.address().port}`;
  return { issuer, seen, close: () => new Promise((resolve) => server.close(resolve)) };
}
