// <rl-yaml-editor>: a plain textarea with line numbers and server errors pinned to their line.
// `value` gets/sets the text; `setErrors([{line, message}])` marks lines; fires `input`.

import { esc } from '../util.js';

class RlYamlEditor extends HTMLElement {
  constructor() {
    super();
    this.errors = [];
  }
  connectedCallback() {
    if (this.ta) return;
    const label = this.getAttribute('label') || 'YAML';
    this.innerHTML = `<div class="yaml-wrap"><pre class="gutter" aria-hidden="true"></pre><textarea spellcheck="false" autocapitalize="off" autocomplete="off" aria-label="${esc(label)}"></textarea></div><ul class="yaml-errors" aria-live="polite"></ul>`;
    this.ta = this.querySelector('textarea');
    this.gutter = this.querySelector('.gutter');
    this.list = this.querySelector('.yaml-errors');
    if (this.hasAttribute('readonly')) this.ta.readOnly = true;
    this.ta.addEventListener('input', () => this.renderGutter());
    this.ta.addEventListener('scroll', () => { this.gutter.scrollTop = this.ta.scrollTop; });
    this.ta.addEventListener('keydown', (e) => {
      if (e.key === 'Tab' && !e.shiftKey && !this.ta.readOnly && !e.ctrlKey) {
        // Two spaces: YAML forbids tabs. Escape then Tab leaves the editor.
        if (this.escaped) { this.escaped = false; return; }
        e.preventDefault();
        this.ta.setRangeText('  ', this.ta.selectionStart, this.ta.selectionEnd, 'end');
        this.ta.dispatchEvent(new Event('input', { bubbles: true }));
      } else if (e.key === 'Escape') {
        this.escaped = true;
      }
    });
    if (this.pending !== undefined) { this.ta.value = this.pending; this.pending = undefined; }
    this.renderGutter();
  }
  get value() { return this.ta ? this.ta.value : (this.pending || ''); }
  set value(v) {
    if (!this.ta) { this.pending = v; return; }
    if (this.ta.value !== v) this.ta.value = v;
    this.renderGutter();
  }
  set readOnly(b) { if (this.ta) this.ta.readOnly = b; }
  setErrors(errors) {
    this.errors = errors || [];
    this.renderGutter();
    this.list.innerHTML = this.errors.map((e) => `<li class="field-error">${e.line ? `<button type="button" class="link" data-line="${e.line}">line ${e.line}</button>: ` : ''}${esc(e.message)}</li>`).join('');
    for (const b of this.list.querySelectorAll('button[data-line]')) b.addEventListener('click', () => this.goto(Number(b.dataset.line)));
    // Bring the first pinned line into view.
    const first = this.errors.find((e) => e.line)?.line;
    if (first) {
      const lh = parseFloat(getComputedStyle(this.ta).lineHeight) || 18;
      this.ta.scrollTop = Math.max(0, (first - 4) * lh);
      this.gutter.scrollTop = this.ta.scrollTop;
    }
  }
  goto(line) {
    const lines = this.ta.value.split('\n');
    const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
    this.ta.focus();
    this.ta.setSelectionRange(start, start + (lines[line - 1] || '').length);
  }
  renderGutter() {
    if (!this.ta) return;
    const n = this.ta.value.split('\n').length;
    const bad = new Set(this.errors.map((e) => e.line));
    let out = '';
    for (let k = 1; k <= n; k++) out += bad.has(k) ? `<span class="err" title="error">${k}</span>\n` : `${k}\n`;
    this.gutter.innerHTML = out;
    this.ta.classList.toggle('invalid', this.errors.length > 0);
  }
}

customElements.define('rl-yaml-editor', RlYamlEditor);
