// YAML for Kubernetes objects: an emitter in kubectl's style and a parser for the block and
// flow YAML people write in manifests (mappings, sequences, plain/quoted scalars, `|`/`>` block
// scalars, flow `[..]`/`{..}`, comments). Anchors, tags and multiple documents are refused with
// a message rather than misread. The server validates what we send; this only converts.

export class YamlError extends Error {
  constructor(message, line) { super(line ? `line ${line}: ${message}` : message); this.line = line; }
}

// ---------- emitting ----------

const RESERVED = /^(true|false|yes|no|on|off|null|y|n|~)$/i;

function needsQuotes(s) {
  return s === '' || /^\s|\s$/.test(s) || /^[-?:,[\]{}#&*!|>'"%@`](\s|$)|^[,[\]{}#&*!|>'"%@`]/.test(s)
    || /: |:$| #|\t|[\u0000-\u001f]/.test(s) || RESERVED.test(s) || /^[-+.]?\d/.test(s) || s === '-';
}

function scalar(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) return '[]';
  if (typeof v === 'object') return '{}';
  return needsQuotes(v) ? JSON.stringify(v) : v;
}

const isBlock = (v) => v !== null && typeof v === 'object' && (Array.isArray(v) ? v.length > 0 : Object.keys(v).length > 0);

function blockString(s) {
  // Literal style keeps commands and scripts readable; fall back to quotes when it cannot be exact.
  if (!s.includes('\n') || /\n\n+$/.test(s) || /^[ \t]/.test(s) || /[ \t]\n|[\u0000-\u0008\u000b-\u001f]/.test(s)) return null;
  const chomp = s.endsWith('\n') ? '' : '-';
  const body = s.endsWith('\n') ? s.slice(0, -1) : s;
  return { header: `|${chomp}`, lines: body.split('\n') };
}

function keyText(k) { return needsQuotes(k) ? JSON.stringify(k) : k; }

function dump(v, ind, out) {
  const pad = ' '.repeat(ind);
  if (Array.isArray(v)) {
    for (const item of v) {
      if (isBlock(item)) {
        const sub = [];
        dump(item, ind + 2, sub);
        out.push(`${pad}- ${sub[0].slice(ind + 2)}`, ...sub.slice(1));
      } else if (typeof item === 'string' && blockString(item)) {
        const b = blockString(item);
        out.push(`${pad}- ${b.header}`, ...b.lines.map((l) => (l ? `${pad}  ${l}` : '')));
      } else {
        out.push(`${pad}- ${scalar(item)}`);
      }
    }
    return;
  }
  for (const [k, val] of Object.entries(v)) {
    if (val === undefined) continue;
    const key = `${pad}${keyText(k)}:`;
    if (isBlock(val)) {
      out.push(key);
      dump(val, Array.isArray(val) ? ind : ind + 2, out);
    } else if (typeof val === 'string' && blockString(val)) {
      const b = blockString(val);
      out.push(`${key} ${b.header}`, ...b.lines.map((l) => (l ? `${pad}  ${l}` : '')));
    } else {
      out.push(`${key} ${scalar(val)}`);
    }
  }
}

export function stringify(v) {
  if (!isBlock(v)) return `${scalar(v)}\n`;
  const out = [];
  dump(v, 0, out);
  return `${out.join('\n')}\n`;
}

// ---------- parsing ----------

const INT = /^[-+]?(0|[1-9][0-9]*)$/;
const FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

function plainValue(s) {
  if (s === '' || s === '~' || /^(null|Null|NULL)$/.test(s)) return null;
  if (/^(true|True|TRUE)$/.test(s)) return true;
  if (/^(false|False|FALSE)$/.test(s)) return false;
  if (INT.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return parseInt(s.slice(2), 16);
  if (/^0o[0-7]+$/.test(s)) return parseInt(s.slice(2), 8);
  if (FLOAT.test(s) && /[0-9]/.test(s)) return Number(s);
  if (/^[-+]?\.(inf|Inf|INF)$/.test(s)) return s.startsWith('-') ? -Infinity : Infinity;
  return s;
}

function doubleQuoted(s, line) {
  try {
    return JSON.parse(s.replace(/\\x([0-9a-fA-F]{2})/g, '\\u00$1').replace(/\t/g, '\\t').replace(/\\\//g, '/'));
  } catch {
    throw new YamlError(`bad double-quoted string ${s}`, line);
  }
}

/** Strips a trailing comment outside quotes. */
function stripComment(s) {
  let q = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '\\' && q === '"') i++;
      else if (c === q) q = null;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s[{,:]/.test(s[i - 1])) q = c;
    } else if (c === '#' && (i === 0 || /\s/.test(s[i - 1]))) {
      return s.slice(0, i);
    }
  }
  return s;
}

class Flow {
  constructor(s, line) { this.s = s; this.i = 0; this.line = line; }
  ws() { while (this.i < this.s.length && /\s/.test(this.s[this.i])) this.i++; }
  value() {
    this.ws();
    const c = this.s[this.i];
    if (c === '[') {
      this.i++;
      const arr = [];
      for (;;) {
        this.ws();
        if (this.s[this.i] === ']') { this.i++; return arr; }
        arr.push(this.value());
        this.ws();
        if (this.s[this.i] === ',') { this.i++; continue; }
        if (this.s[this.i] === ']') { this.i++; return arr; }
        throw new YamlError('expected , or ] in a flow sequence', this.line);
      }
    }
    if (c === '{') {
      this.i++;
      const obj = {};
      for (;;) {
        this.ws();
        if (this.s[this.i] === '}') { this.i++; return obj; }
        const k = this.value(true);
        this.ws();
        let v = null;
        if (this.s[this.i] === ':') { this.i++; v = this.value(); }
        obj[String(k)] = v;
        this.ws();
        if (this.s[this.i] === ',') { this.i++; continue; }
        if (this.s[this.i] === '}') { this.i++; return obj; }
        throw new YamlError('expected , or } in a flow mapping', this.line);
      }
    }
    if (c === '"') {
      let j = this.i + 1;
      while (j < this.s.length && this.s[j] !== '"') j += this.s[j] === '\\' ? 2 : 1;
      const v = doubleQuoted(this.s.slice(this.i, j + 1), this.line);
      this.i = j + 1;
      return v;
    }
    if (c === "'") {
      let j = this.i + 1;
      let v = '';
      for (;;) {
        if (j >= this.s.length) throw new YamlError('unterminated single-quoted string', this.line);
        if (this.s[j] === "'") { if (this.s[j + 1] === "'") { v += "'"; j += 2; continue; } break; }
        v += this.s[j++];
      }
      this.i = j + 1;
      return v;
    }
    let j = this.i;
    while (j < this.s.length && !/[,\]}]/.test(this.s[j]) && !(this.s[j] === ':' && /[\s,\]}]|$/.test(this.s[j + 1] || ''))) j++;
    const v = plainValue(this.s.slice(this.i, j).trim());
    this.i = j;
    return v;
  }
}

function unquoteKey(k, line) {
  if (k.startsWith('"')) return doubleQuoted(k, line);
  if (k.startsWith("'")) return k.slice(1, -1).replace(/''/g, "'");
  return k;
}

const KEY = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"[\]{},|>&*!%@`-][^#]*?|-[^\s#][^#]*?)\s*:(?=\s|$)/;

export function parse(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  const indentOf = (l) => l.match(/^ */)[0].length;
  const blank = (l) => /^\s*(#.*)?$/.test(l);
  for (const [n, l] of lines.entries()) {
    if (/^\t/.test(l)) throw new YamlError('tabs are not allowed for indentation', n + 1);
    if (/^\s*[&*!][^\s]/.test(l.replace(/^(\s*-\s+|\s*[^:]+:\s+)/, ''))) {
      const t = l.replace(/^(\s*-\s+|\s*[^:]+:\s+)/, '');
      if (/^[&*][A-Za-z]/.test(t)) throw new YamlError('anchors and aliases are not supported', n + 1);
    }
  }
  const skip = () => {
    while (i < lines.length && (blank(lines[i]) || /^---\s*$/.test(lines[i]) || /^%/.test(lines[i]))) {
      if (/^---/.test(lines[i]) && i > 0 && lines.slice(0, i).some((l) => !blank(l) && !/^---/.test(l))) {
        throw new YamlError('only one document is supported', i + 1);
      }
      i++;
    }
  };

  function blockScalar(header, ind) {
    const folded = header[0] === '>';
    const chomp = header.includes('-') ? 'strip' : header.includes('+') ? 'keep' : 'clip';
    const body = [];
    let contentIndent = null;
    while (i < lines.length) {
      const l = lines[i];
      if (/^\s*$/.test(l)) { body.push(''); i++; continue; }
      const n = indentOf(l);
      if (n <= ind) break;
      if (contentIndent === null) contentIndent = n;
      if (n < contentIndent) break;
      body.push(l.slice(contentIndent));
      i++;
    }
    let trailing = 0;
    while (body.length && body[body.length - 1] === '') { body.pop(); trailing++; }
    let s;
    if (folded) {
      s = '';
      body.forEach((l, k) => {
        if (k === 0) s = l;
        else if (l === '' || /^\s/.test(l) || /^\s/.test(body[k - 1])) s += `\n${l}`;
        else s += (body[k - 1] === '' ? '' : ' ') + l;
      });
    } else {
      s = body.join('\n');
    }
    if (!body.length) return '';
    if (chomp === 'clip') s += '\n';
    if (chomp === 'keep') s += '\n'.repeat(trailing + 1);
    return s;
  }

  function inlineValue(rest, ind, lineNo) {
    let r = stripComment(rest).trim();
    if (r.startsWith('|') || r.startsWith('>')) return blockScalar(r, ind);
    if (r.startsWith('[') || r.startsWith('{')) {
      // A flow collection may span lines: gather until the brackets balance.
      let depth = 0;
      const balance = (s) => { for (const c of s.replace(/"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'/g, '')) { if (c === '[' || c === '{') depth++; if (c === ']' || c === '}') depth--; } };
      balance(r);
      while (depth > 0 && i < lines.length) { const more = stripComment(lines[i++]).trim(); balance(more); r += ` ${more}`; }
      const f = new Flow(r, lineNo);
      const v = f.value();
      f.ws();
      if (f.i < r.length) throw new YamlError(`unexpected ${r.slice(f.i)}`, lineNo);
      return v;
    }
    if (r.startsWith('"') || r.startsWith("'")) {
      const f = new Flow(r, lineNo);
      const v = f.value();
      f.ws();
      if (f.i < r.length) throw new YamlError(`unexpected text after a quoted string: ${r.slice(f.i)}`, lineNo);
      return v;
    }
    // Plain scalars may continue on more-indented lines (folded with spaces).
    while (i < lines.length && !blank(lines[i]) && indentOf(lines[i]) > ind && !KEY.test(lines[i].trim()) && !/^\s*- /.test(lines[i])) {
      r += ` ${stripComment(lines[i++]).trim()}`;
    }
    return plainValue(r);
  }

  function nested(ind, inMap) {
    skip();
    if (i >= lines.length) return null;
    const n = indentOf(lines[i]);
    const t = lines[i].slice(n);
    if (n > ind || (inMap && n === ind && (t === '-' || t.startsWith('- ')))) return node(n);
    return null;
  }

  function mapping(ind) {
    const obj = {};
    for (;;) {
      skip();
      if (i >= lines.length) break;
      const n = indentOf(lines[i]);
      if (n < ind) break;
      if (n > ind) throw new YamlError('unexpected indentation', i + 1);
      const t = lines[i].slice(n);
      if (t === '-' || t.startsWith('- ')) break;
      const m = KEY.exec(t);
      if (!m) throw new YamlError(`expected "key: value", found ${JSON.stringify(t.trim())}`, i + 1);
      const key = unquoteKey(m[1].trim(), i + 1);
      const rest = t.slice(m[0].length);
      const lineNo = i + 1;
      i++;
      if (Object.prototype.hasOwnProperty.call(obj, key)) throw new YamlError(`duplicate key ${JSON.stringify(key)}`, lineNo);
      obj[key] = stripComment(rest).trim() === '' ? nested(ind, true) : inlineValue(rest, ind, lineNo);
    }
    return obj;
  }

  function sequence(ind) {
    const arr = [];
    for (;;) {
      skip();
      if (i >= lines.length) break;
      const n = indentOf(lines[i]);
      const t = lines[i].slice(n);
      if (n !== ind || !(t === '-' || t.startsWith('- '))) {
        if (n > ind) throw new YamlError('unexpected indentation', i + 1);
        break;
      }
      const after = t.slice(1);
      if (stripComment(after).trim() === '') { i++; arr.push(nested(ind, false)); continue; }
      const sp = indentOf(after);
      const content = after.slice(sp);
      const itemIndent = ind + 1 + sp;
      if ((KEY.test(content) && !/^["'[{]/.test(content)) || /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(\s|$)/.test(content)
          || content === '-' || content.startsWith('- ')) {
        lines[i] = ' '.repeat(itemIndent) + content;
        arr.push(node(itemIndent));
      } else {
        const lineNo = i + 1;
        i++;
        arr.push(inlineValue(content, ind, lineNo));
      }
    }
    return arr;
  }

  function node(ind) {
    skip();
    if (i >= lines.length) return null;
    const t = lines[i].slice(ind);
    if (t === '-' || t.startsWith('- ')) return sequence(ind);
    if (KEY.test(t) && !/^["'][^:]*$/.test(t)) return mapping(ind);
    const lineNo = i + 1;
    i++;
    return inlineValue(t, ind - 1, lineNo);
  }

  skip();
  if (i >= lines.length) return null;
  const v = node(indentOf(lines[i]));
  skip();
  if (i < lines.length) throw new YamlError(`unexpected ${JSON.stringify(lines[i].trim())}`, i + 1);
  return v;
}

/** The 1-based line where a field path (`spec.template.spec.containers[0].image`) is written in
 * `text`, or 0; used to pin server validation errors to the YAML. */
export function lineOfPath(text, path) {
  const lines = text.split('\n');
  const keys = path.split(/\.|\[(\d+)\]/).filter((k) => k !== undefined && k !== '');
  let from = 0;
  let ind = -1;
  let found = 0;
  for (const k of keys) {
    if (/^\d+$/.test(k)) {
      let count = -1;
      for (let n = from; n < lines.length; n++) {
        const m = /^(\s*)- /.exec(lines[n]);
        if (m && m[1].length >= ind) { count++; if (count === Number(k)) { from = n; found = n + 1; ind = m[1].length + 1; break; } }
      }
      continue;
    }
    let hit = false;
    for (let n = from; n < lines.length; n++) {
      const m = /^(\s*(?:- )?)([^:#]+):(\s|$)/.exec(lines[n]);
      if (m && m[2].trim().replace(/^["']|["']$/g, '') === k && m[1].length > ind - 1) {
        from = n + 1; found = n + 1; ind = m[1].length; hit = true; break;
      }
    }
    if (!hit) break;
  }
  return found;
}
