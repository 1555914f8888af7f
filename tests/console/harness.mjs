// Starts the real `runlet server` binary and Debian's Chromium for the console tests.
//
// The binary comes from RUNLET_BIN (set by the Rust integration test `console_browser_suite`,
// which `cargo test` runs), else target/debug/runlet. Chromium is /usr/bin/chromium (Debian's
// package) unless CHROMIUM says otherwise. Screenshots go to test-output/console/.

import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, '..', '..');
export const shotsDir = join(repoRoot, 'test-output', 'console');

export async function startServer() {
  const bin = process.env.RUNLET_BIN || join(repoRoot, 'target', 'debug', 'runlet');
  const dir = mkdtempSync(join(tmpdir(), 'runlet-console-'));
  const child = spawn(bin, ['server', '--bind', '127.0.0.1:0', '--data-dir', dir], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, RUNLET_LOG: process.env.RUNLET_LOG || 'warn' },
  });
  let log = '';
  const url = await new Promise((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`runlet server did not start within 60s:\n${log}`)), 60000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const m = /runlet server listening on (\S+)/.exec(log);
      if (m) { clearTimeout(timer); resolveUrl(m[1]); }
    });
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`runlet server exited (${code}):\n${log}`)); });
  });
  const token = readFileSync(join(dir, 'console-token'), 'utf8').trim();
  return {
    url,
    token,
    dir,
    log: () => log,
    kubectl(args, input) {
      return new Promise((res, rej) => {
        const p = execFile('kubectl', args, { env: { ...process.env, KUBECONFIG: join(dir, 'kubeconfig') }, timeout: 60000 }, (err, stdout, stderr) => {
          if (err) rej(new Error(`kubectl ${args.join(' ')}: ${stderr || err.message}`)); else res(stdout);
        });
        if (input !== undefined) { p.stdin.write(input); p.stdin.end(); }
      });
    },
    async stop() {
      child.kill('SIGKILL');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.on('exit', r); });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'runlet-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    ignoreHTTPSErrors: true,
    viewport: { width: 1366, height: 860 },
    timeout: 60000,
  });
  context.setDefaultTimeout(30000);
  return {
    context,
    async stop() { await context.close(); rmSync(profile, { recursive: true, force: true }); },
  };
}

export async function shot(page, name) {
  mkdirSync(shotsDir, { recursive: true });
  await page.waitForTimeout(150); // let the last frame paint
  await page.screenshot({ path: join(shotsDir, `${name}.png`), fullPage: false });
}

/** Waits until `locator` shows `text` (a string or RegExp). */
export async function waitText(locator, text, timeout = 60000) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}
