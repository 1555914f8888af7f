// <rl-progress succeeded failed active total>: a Job's progress bar — the succeeded share, the
// failed share and the active pods, with a text for screen readers and narrow screens.

class RlProgress extends HTMLElement {
  static get observedAttributes() { return ['succeeded', 'failed', 'active', 'total']; }
  connectedCallback() { this.render(); }
  attributeChangedCallback() { this.render(); }
  render() {
    const n = (k) => Math.max(0, Number(this.getAttribute(k)) || 0);
    const s = n('succeeded');
    const f = n('failed');
    const a = n('active');
    const total = Math.max(n('total'), 1);
    const denom = Math.max(total, s + f + a, 1);
    const pct = (x) => `${Math.min(100, (x / denom) * 100).toFixed(1)}%`;
    const label = `${s} of ${this.getAttribute('total') || 1} succeeded${f ? `, ${f} failed` : ''}${a ? `, ${a} active` : ''}`;
    this.setAttribute('role', 'progressbar');
    this.setAttribute('aria-valuemin', '0');
    this.setAttribute('aria-valuemax', String(total));
    this.setAttribute('aria-valuenow', String(Math.min(s, total)));
    this.setAttribute('aria-label', label);
    this.title = label;
    this.innerHTML = `<span class="bar"><span class="seg ok" style="width:${pct(s)}"></span><span class="seg bad" style="width:${pct(f)}"></span><span class="seg run" style="width:${pct(a)}"></span></span><span class="num">${s}/${this.getAttribute('total') || 1}${a ? ` <span class="muted">· ${a} active</span>` : ''}${f ? ` <span class="bad-text">· ${f} failed</span>` : ''}</span>`;
  }
}

customElements.define('rl-progress', RlProgress);
