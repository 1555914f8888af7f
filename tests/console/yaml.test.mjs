// The console's YAML module (crates/runlet-console/assets/js/yaml.js) on its own: kubectl-style
// output that parses back to the same object, the block and flow forms people write, and
// server error fields mapped to their line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lineOfPath, parse, stringify, YamlError } from '../../crates/runlet-console/assets/js/yaml.js';

test('stringify then parse gives the same object back', () => {
  const job = {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'pi', labels: { app: 'x', 'a/b': '1' }, annotations: { 'runlet.dev/description': 'yes: no # maybe' } },
    spec: {
      completions: 2,
      suspend: false,
      template: { spec: { restartPolicy: 'Never', containers: [{ name: 'c', image: 'busybox', command: ['sh', '-c', 'echo hi\nexit 0\n'], args: [], env: [{ name: 'A', value: '010' }, { name: 'B', value: 'true' }, { name: 'C', value: '' }], resources: { limits: { cpu: '100m' } } }] } },
    },
  };
  const text = stringify(job);
  assert.match(text, /^ {6}containers:\n {6}- name: c$/m, 'sequences sit at their key\'s indent, as kubectl writes them');
  assert.deepEqual(parse(text), job);
});

test('parses block scalars, flow collections, quotes and comments', () => {
  const doc = parse(`# a comment
a: 1 # trailing
b:
- x
- {p: q, r: [1, 2]}
- k: v
  m: "n\\tm"
c: |-
  line1
  line2
d: >
  folded
  text
e: 'it''s'
f: ~
g: "123"
`);
  assert.deepEqual(doc, { a: 1, b: ['x', { p: 'q', r: [1, 2] }, { k: 'v', m: 'n\tm' }], c: 'line1\nline2', d: 'folded text\n', e: "it's", f: null, g: '123' });
});

test('refuses what it cannot read faithfully, naming the line', () => {
  assert.throws(() => parse('a: 1\n\tb: 2\n'), (e) => e instanceof YamlError && e.line === 2);
  assert.throws(() => parse('a: &x 1\nb: *x\n'), /anchors/);
  assert.throws(() => parse('a: 1\na: 2\n'), /duplicate key/);
  assert.throws(() => parse('a: 1\n---\nb: 2\n'), /one document/);
});

test('maps a field path to the line that writes it', () => {
  const text = stringify({ metadata: { name: 'x' }, spec: { template: { spec: { containers: [{ name: 'a', image: 'i' }, { name: 'b', image: '' }] } }, completions: -1 } });
  const lines = text.split('\n');
  assert.equal(lines[lineOfPath(text, 'spec.completions') - 1].trim(), 'completions: -1');
  assert.equal(lines[lineOfPath(text, 'spec.template.spec.containers[1].image') - 1].trim(), 'image: ""');
  assert.equal(lineOfPath(text, 'nope.at.all'), 0);
});
