// Sign in with a bearer token (the console token `runlet server` prints, or any token from the
// server's token file). The token is checked against the API before it is kept.

import { api, ApiError, setToken } from '../api.js';
import { html } from '../util.js';

export function render({ root, route, done }) {
  root.innerHTML = html`
    <main id="main" class="signin" tabindex="-1">
      <form class="card signin-card" novalidate>
        <h1><img src="favicon.svg" alt="" width="28" height="28"> runlet console</h1>
        <p class="muted">Sign in with a bearer token. <code>runlet server</code> prints a console token at start and keeps it in <code>DATA_DIR/console-token</code>.</p>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required aria-describedby="token-error" spellcheck="false">
        <p id="token-error" class="field-error" role="alert"></p>
        <label class="check"><input type="checkbox" name="remember"> Remember on this device</label>
        <button type="submit" class="primary">Sign in</button>
      </form>
    </main>`.s;
  const form = root.querySelector('form');
  const err = root.querySelector('#token-error');
  const attempt = async (value, remember) => {
    err.textContent = '';
    setToken(value, remember);
    try {
      await api('GET', '/api/v1/namespaces', { query: { limit: 1 } });
      done();
    } catch (e) {
      setToken('', false);
      sessionStorage.clear();
      err.textContent = e instanceof ApiError && e.code === 401 ? 'The server did not accept this token.' : `Sign-in failed: ${e.message}`;
      root.querySelector('#token').focus();
    }
  };
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const value = form.token.value.trim();
    if (!value) { err.textContent = 'Enter a token.'; form.token.focus(); return; }
    attempt(value, form.remember.checked);
  });
  const fromUrl = route.params.get('token');
  if (fromUrl) {
    history.replaceState(null, '', '#/overview');
    attempt(fromUrl, false);
  } else {
    root.querySelector('#token').focus();
  }
}
