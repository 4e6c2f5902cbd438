// The login page (custom interaction): a plain HTML form with fields `login` and `password`.
import { USERS } from './data.js';
import { MOUNT, escapeHtml } from './provider.js';
import { config, stats } from './state.js';

function page(res, status, title, inner) {
  const html = `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:26em;margin:3em auto}label{display:block;margin:.6em 0}
input[type=text],input[type=password]{width:100%;padding:.4em}.error{color:#b00020;font-weight:bold}</style>
</head>
<body>
${inner}
</body>
</html>`;
  const body = Buffer.from(html);
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "frame-ancestors 'none'",
  });
  res.end(body);
}

function loginForm(res, uid, { error, login = '', clientName, status = 200 } = {}) {
  const action = `${MOUNT}/interaction/${encodeURIComponent(uid)}`;
  page(res, status, 'Sign in - ERP.net emulator', `<h1>Sign in</h1>
<p>to ${escapeHtml(clientName || 'the application')} (ERP.net emulator, instance
<strong id="instance">${escapeHtml(config.instance)}</strong>)</p>
${error ? `<p class="error" id="error" role="alert">${escapeHtml(error)}</p>` : ''}
<form method="post" action="${action}/login" id="login-form">
<label>Login <input type="text" name="login" id="login" value="${escapeHtml(login)}" autocomplete="username" autofocus></label>
<label>Password <input type="password" name="password" id="password" autocomplete="current-password"></label>
<button type="submit" id="submit">Sign in</button>
</form>
<form method="post" action="${action}/abort" id="cancel-form">
<button type="submit" id="cancel">Cancel</button>
</form>
<p><small>Test users: demo/demo, alice/alice, carol/carol.</small></p>`);
}

async function readForm(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > 64 * 1024) throw new Error('form too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// Handles /id/interaction/:uid[/login|/abort]. Returns false when the path is not an interaction path.
export async function handleInteraction(provider, req, res, pathname) {
  const m = /^\/id\/interaction\/([^/]+)(?:\/(login|abort))?$/.exec(pathname);
  if (!m) return false;
  const [, uidRaw, action] = m;
  const uid = decodeURIComponent(uidRaw);

  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch {
    page(res, 400, 'Sign-in expired', '<h1>Sign-in session not found or expired</h1><p>Start the sign-in again from the application.</p>');
    return true;
  }
  if (details.uid !== uid) {
    page(res, 400, 'Sign-in mismatch', '<h1>Sign-in session mismatch</h1><p>Start the sign-in again from the application.</p>');
    return true;
  }
  const client = await provider.Client.find(details.params.client_id);
  const clientName = client?.clientName || details.params.client_id;

  if (req.method === 'GET' && !action) {
    if (details.prompt.name === 'consent') {
      // Trusted application: consent is implied (normally never reached, see loadExistingGrant).
      const { Grant } = provider;
      const grant = details.grantId ? await Grant.find(details.grantId) : new Grant({
        accountId: details.session.accountId, clientId: details.params.client_id,
      });
      const d = details.prompt.details;
      if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
      if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(d.missingResourceScopes || {})) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
      const grantId = await grant.save();
      await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
      return true;
    }
    loginForm(res, uid, { clientName, login: details.params.login_hint || '' });
    return true;
  }

  if (req.method === 'POST' && action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
    return true;
  }

  if (req.method === 'POST' && action === 'login') {
    let form;
    try {
      form = await readForm(req);
    } catch {
      page(res, 413, 'Too large', '<h1>Request too large</h1>');
      return true;
    }
    const login = form.get('login') || '';
    const password = form.get('password') || '';
    const user = USERS.get(login);
    if (!user || user.password !== password) {
      stats.login.failed += 1;
      loginForm(res, uid, { clientName, login, error: 'Invalid login or password' });
      return true;
    }
    stats.login.ok += 1;
    await provider.interactionFinished(req, res, {
      login: { accountId: user.id, amr: ['pwd'] }, // the stable GUID (provider.js findAccount)
    }, { mergeWithLastSubmission: false });
    return true;
  }

  res.writeHead(405, { Allow: action ? 'POST' : 'GET', 'Content-Length': 0 });
  res.end();
  return true;
}
