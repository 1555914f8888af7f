// The runlet web console in a real browser against the real server: sign in, create a Job with
// the wizard and watch it complete live, logs, inline server validation, YAML edit, rerun,
// delete, a CronJob with Run now, and an Indexed Job's per-index grid. Each test saves a
// screenshot of what it visited into test-output/console/.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { shot, startBrowser, startServer, waitText } from './harness.mjs';

let server;
let browser;
let page;
const errors = [];

before(async () => {
  server = await startServer();
  browser = await startBrowser();
  page = browser.context.pages()[0] || await browser.context.newPage();
  page.on('pageerror', (e) => errors.push(String(e)));
});

after(async () => {
  await browser?.stop();
  await server?.stop();
});

const go = (hash) => page.goto(`${server.url}/console/${hash}`);

test('signs in with the console token and rejects a wrong one', async () => {
  const res = await page.goto(`${server.url}/`);
  assert.ok(res.url().endsWith('/console/'), `/ redirects to the console, got ${res.url()}`);
  await page.getByLabel('Token').fill('not-a-token');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitText(page.locator('#token-error'), 'did not accept');
  await shot(page, 'signin');
  await page.getByLabel('Token').fill(server.token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  await waitText(page.locator('.nodes-sum'), /1 of 1 node ready/);
  await shot(page, 'overview');
});

test('creates a Job with the wizard and watches it complete without reloading', async () => {
  await go('#/jobs/new?ns=default');
  await page.getByLabel('Name', { exact: true }).fill('hello');
  await page.getByLabel('Description').fill('says hello twice');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Completions').fill('2');
  await page.getByLabel('Parallelism').fill('1');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Command').fill('sh\n-c\necho starting; for i in 1 2 3; do echo line $i; sleep 0.2; done; echo finished');
  await page.getByLabel('Environment').fill('GREETING=hello');
  await shot(page, 'create-job-wizard');
  await page.getByRole('button', { name: '5. Review' }).click();
  await waitText(page.locator('pre.review'), 'completions: 2');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/jobs\/default\/hello/);
  // A marker that a reload would erase: the status must change live.
  await page.evaluate(() => { window.__noReload = true; });
  await waitText(page.locator('.head-status'), 'Complete', 90000);
  assert.equal(await page.evaluate(() => window.__noReload), true, 'the page was not reloaded');
  await waitText(page.locator('.summary'), '2/2');
  await shot(page, 'job-detail');
});

test('shows the Job in the list with its progress', async () => {
  await go('#/jobs?ns=default');
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'hello', exact: true }) });
  await waitText(row, 'Complete');
  assert.match(await row.locator('rl-progress').getAttribute('aria-label'), /2 of 2 succeeded/);
  await waitText(row, 'says hello twice');
  await shot(page, 'jobs-list');
});

test('opens the logs of the Job', async () => {
  await go('#/jobs/default/hello?tab=logs');
  const pane = page.locator('pre.log');
  await waitText(pane, 'finished');
  await waitText(pane, 'line 3');
  await page.getByLabel('Search logs').fill('line 2');
  await waitText(page.locator('output[name=count]'), /^[1-9]\d* match/);
  await shot(page, 'job-logs');
});

test('shows server validation errors inline at the field', async () => {
  await go('#/jobs/new?ns=default');
  await page.getByLabel('Name', { exact: true }).fill('invalid-one');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Completions').fill('-1');
  const completionsField = page.locator('.field', { has: page.getByLabel('Completions') });
  await waitText(completionsField.locator('.field-error'), 'must be greater than or equal to 0');
  assert.equal(await page.getByLabel('Completions').getAttribute('aria-invalid'), 'true');
  await shot(page, 'validation-completions');
  await page.getByLabel('Completions').fill('1');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Restart policy').selectOption('');
  const rpField = page.locator('.field', { has: page.getByLabel('Restart policy') });
  await waitText(rpField.locator('.field-error'), /Unsupported value|Required value/);
  await shot(page, 'validation-restart-policy');
  // Form → YAML → Form: the same object both ways, errors follow into the YAML view.
  await page.getByRole('button', { name: 'YAML', exact: true }).click();
  const ta = page.locator('.yaml-mode textarea');
  const yamlText = await ta.inputValue();
  assert.match(yamlText, /name: invalid-one/);
  assert.doesNotMatch(yamlText, /restartPolicy/);
  await waitText(page.locator('.yaml-mode .yaml-errors'), /restartPolicy/);
  await ta.fill(yamlText.replace(/^(\s+)completions: 1$/m, '$1completions: 3').replace(/^(\s+)containers:$/m, '$1restartPolicy: OnFailure\n$1containers:'));
  await waitText(page.locator('.validity'), 'Valid');
  await shot(page, 'create-job-yaml');
  await page.getByRole('button', { name: 'Form', exact: true }).click();
  assert.equal(await page.getByLabel('Restart policy').inputValue(), 'OnFailure');
  await page.getByRole('button', { name: '2. Run policy' }).click();
  assert.equal(await page.getByLabel('Completions').inputValue(), '3');
  // Nothing was created by the dry runs.
  const out = await server.kubectl(['get', 'jobs', '-o', 'name']);
  assert.ok(!out.includes('invalid-one'), out);
});

test('edits the Job as YAML, with server errors pinned to the line', async () => {
  await go('#/jobs/default/hello');
  await page.getByRole('button', { name: 'Edit YAML' }).click();
  const ta = page.locator('rl-yaml-editor textarea');
  await waitText(page.locator('#panel'), 'Review and save');
  let text = await ta.inputValue();
  assert.match(text, /^kind: Job$/m);
  // An invalid change first: the server's error lands on its line.
  await ta.fill(text.replace(/^(\s+)backoffLimit: 6$/m, '$1backoffLimit: -3'));
  await page.getByRole('button', { name: 'Review and save' }).click();
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page.locator('.yaml-errors'), 'spec.backoffLimit');
  assert.ok(await page.locator('.gutter .err').count() >= 1, 'the error line is marked');
  await shot(page, 'yaml-edit-error');
  // Then a valid change.
  text = await ta.inputValue();
  await ta.fill(text.replace(/backoffLimit: -3/, 'backoffLimit: 6').replace(/^(\s+)annotations:\n/m, '$1annotations:\n$1  edited-by: console-test\n'));
  await page.getByRole('button', { name: 'Review and save' }).click();
  await waitText(page.locator('pre.diff'), 'edited-by: console-test');
  await shot(page, 'yaml-edit-diff');
  await page.getByRole('button', { name: 'Save', exact: true }).click();
  await waitText(page.locator('.yaml-note'), 'Saved');
  const out = await server.kubectl(['get', 'job', 'hello', '-o', 'jsonpath={.metadata.annotations.edited-by}']);
  assert.equal(out, 'console-test');
});

let rerunName = '';
test('reruns a finished Job as a new linked Job', async () => {
  await go('#/jobs/default/hello');
  await waitText(page.locator('.head-status'), 'Complete');
  await page.getByRole('button', { name: 'Rerun', exact: true }).click();
  await page.waitForURL(/#\/jobs\/default\/hello-rerun-/);
  rerunName = decodeURIComponent(page.url().split('/').pop().split('?')[0]);
  await waitText(page.locator('.summary'), 'Rerun of');
  await waitText(page.locator('.head-status'), 'Complete', 90000);
  await shot(page, 'job-rerun');
  const back = await server.kubectl(['get', 'job', 'hello', '-o', 'jsonpath={.metadata.annotations.runlet\\.dev/rerun}']);
  assert.equal(back, rerunName);
});

test('deletes a Job with the chosen propagation', async () => {
  await go(`#/jobs/default/${rerunName}`);
  await waitText(page.locator('.head-status'), 'Complete');
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByLabel(/Foreground/).check();
  await shot(page, 'job-delete-dialog');
  await page.locator('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.waitForURL(/#\/jobs\?ns=default$/);
  await page.getByRole('link', { name: 'hello', exact: true }).waitFor();
  await page.getByRole('link', { name: rerunName, exact: true }).waitFor({ state: 'detached', timeout: 60000 });
});

test('creates a CronJob, shows its next runs and runs it now', async () => {
  await go('#/cronjobs/new?ns=default');
  await page.getByRole('button', { name: 'hourly' }).click();
  await waitText(page.locator('.schedule-preview'), 'at minute 0 of every hour');
  await page.getByLabel('Time zone').fill('Europe/Berlin');
  await waitText(page.locator('.schedule-preview'), '(Europe/Berlin)');
  await shot(page, 'cronjob-wizard-schedule');
  await page.getByRole('button', { name: 'Next' }).click();
  await page.getByLabel('Name', { exact: true }).fill('tick');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.waitForURL(/#\/cronjobs\/default\/tick/);
  await waitText(page.locator('.schedule'), 'Next runs');
  assert.equal(await page.locator('.schedule .next-list li').count(), 5);
  await page.getByRole('button', { name: 'Run now' }).click();
  await page.locator('dialog').getByRole('button', { name: 'Run now' }).click();
  const run = page.locator('table.runs tbody tr', { hasText: 'tick-manual-' });
  await waitText(run, 'manual');
  await waitText(run, 'Complete', 90000);
  await shot(page, 'cronjob-detail');
  await go('#/cronjobs?ns=default');
  const row = page.locator('tr', { has: page.getByRole('link', { name: 'tick' }) });
  await waitText(row, 'at minute 0 of every hour');
  await waitText(row, /in \d/);
  await shot(page, 'cronjobs-list');
});

test('shows the per-index grid of an Indexed Job', async () => {
  await server.kubectl(['apply', '-f', '-'], `apiVersion: batch/v1
kind: Job
metadata:
  name: indexed
  namespace: default
spec:
  completionMode: Indexed
  completions: 12
  parallelism: 4
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: work
        image: busybox
        command: ["sh", "-c", "echo working on index $JOB_COMPLETION_INDEX; sleep 1"]
`);
  await go('#/jobs/default/indexed?tab=pods');
  const grid = page.locator('[data-index-grid]');
  await grid.waitFor();
  assert.equal(await grid.locator('.cell').count(), 12);
  // Mid-run: some indexes done while others still run or wait.
  await page.waitForFunction(() => {
    const n = (c) => document.querySelectorAll(`[data-index-grid] .cell.${c}`).length;
    return n('succeeded') >= 1 && n('running') >= 1 && n('succeeded') < 12;
  }, null, { timeout: 90000, polling: 50 });
  await shot(page, 'indexed-grid-running');
  await page.waitForFunction(() => document.querySelectorAll('[data-index-grid] .cell.succeeded').length === 12, null, { timeout: 90000 });
  await shot(page, 'indexed-grid');
  await grid.locator('.cell[data-index="4"]').click();
  await waitText(page.locator('pre.log'), 'working on index 4');
  await shot(page, 'indexed-logs');
});

test('pods, nodes and events pages render live data', async () => {
  await server.kubectl(['apply', '-f', '-'], `apiVersion: batch/v1
kind: Job
metadata:
  name: fails
  namespace: default
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", "echo about to fail >&2; exit 3"]
`);
  await go('#/overview?ns=default');
  await waitText(page.locator('.failing'), 'BackoffLimitExceeded', 90000);
  await waitText(page.locator('.next-runs'), 'tick');
  await shot(page, 'overview-busy');
  await go('#/pods?ns=default');
  await waitText(page.locator('table.pods'), 'indexed-');
  const failed = page.locator('table.pods tr', { hasText: 'fails-' });
  await waitText(failed, /Error|Failed/);
  assert.match(await failed.locator('td').nth(6).innerText(), /^3/);
  await shot(page, 'pods');
  await go('#/nodes');
  await waitText(page.locator('table.nodes'), 'Ready');
  await shot(page, 'nodes');
  await go('#/events?ns=default');
  await waitText(page.locator('table.events'), /Completed|SuccessfulCreate/);
  await shot(page, 'events');
});

test('works at phone width and in the dark theme', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await go('#/jobs?ns=default');
  await page.getByRole('link', { name: 'hello', exact: true }).waitFor();
  await shot(page, 'phone-jobs');
  await page.getByRole('button', { name: 'Menu' }).click();
  await page.locator('#nav.open').waitFor();
  await page.keyboard.press('Escape');
  await page.setViewportSize({ width: 1366, height: 860 });
  await page.getByRole('button', { name: /Switch to dark theme/ }).click();
  await go('#/jobs/default/hello');
  await waitText(page.locator('.head-status'), 'Complete');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await shot(page, 'dark-job-detail');
  await page.getByRole('button', { name: /Switch to light theme/ }).click();
  assert.deepEqual(errors, [], 'no uncaught errors in the page');
});
