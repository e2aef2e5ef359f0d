// DOM helpers. Every string from the server goes in as a text node or an attribute value set
// through the DOM: nothing is ever parsed as HTML, so no server string can inject markup.

// el('td', {class: 'x', title: t, dataset: {id}}, 'text', child, [more, children])
export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(node, c);
    else if (c instanceof Node) node.appendChild(c);
    else node.appendChild(document.createTextNode(String(c)));
  }
}

const SVG = 'http://www.w3.org/2000/svg';
export function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  for (const c of children) {
    if (c === undefined || c === null) continue;
    node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function bytes(n) {
  if (n === undefined || n === null) return '–';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (Math.abs(v) >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return (i === 0 ? String(v) : v.toFixed(v < 10 ? 2 : 1)) + ' ' + units[i];
}

export function ago(iso) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  const s = Math.round((Date.now() - t) / 1000);
  if (s < 0) return 'just now';
  if (s < 60) return s + ' s ago';
  if (s < 3600) return Math.floor(s / 60) + ' min ago';
  if (s < 86400) return Math.floor(s / 3600) + ' h ago';
  return Math.floor(s / 86400) + ' d ago';
}

export function time(iso) {
  return el('time', {datetime: iso || '', title: iso || ''}, ago(iso));
}

// A coloured state label; the class is picked from a fixed list, never from the raw value.
const GOOD = new Set(['online', 'completed', 'accepted', 'ready', 'healthy']);
const BAD = new Set(['failed', 'rolled_back', 'halted', 'aborted', 'rejected', 'offline',
                     'completed_with_failures', 'refused']);
const BUSY = new Set(['rolling_out', 'downloading', 'applying', 'pending', 'awaiting_approval']);
export function badge(state) {
  const s = String(state ?? 'unknown');
  const cls = GOOD.has(s) ? 'good' : BAD.has(s) ? 'bad' : BUSY.has(s) ? 'busy' : 'neutral';
  return el('span', {class: 'badge ' + cls, dataset: {state: s}}, s.replaceAll('_', ' '));
}

// A progress bar: done (green) and failed (red) as fractions of 1.
export function progressBar(done, failed, label, testid) {
  const bar = el('div', {class: 'bar', role: 'progressbar', 'aria-valuemin': 0,
                         'aria-valuemax': 100, 'aria-valuenow': Math.round(done * 100),
                         dataset: testid ? {testid} : undefined});
  const ok = el('span', {class: 'ok'});
  ok.style.width = (Math.max(0, Math.min(1, done)) * 100).toFixed(1) + '%';
  const bad = el('span', {class: 'fail'});
  bad.style.width = (Math.max(0, Math.min(1, failed)) * 100).toFixed(1) + '%';
  bar.append(ok, bad);
  return el('div', {class: 'progress'}, bar, el('span', {class: 'bar-label'}, label));
}

// A column whose cells are numbers (class "num", right-aligned) gets a right-aligned header
// too, so that a header stands over its values.
export function table(headers, rows, attrs) {
  const ths = headers.map((h) => el('th', {}, h));
  for (const row of rows) {
    Array.from(row.children || []).forEach((td, i) => {
      if (td.classList.contains('num') && ths[i]) ths[i].classList.add('num');
    });
  }
  return el('table', attrs || {},
            el('thead', {}, el('tr', {}, ths)),
            el('tbody', {}, rows.length ? rows
                                        : el('tr', {}, el('td', {colspan: headers.length,
                                                                 class: 'empty'}, 'none'))));
}

export function link(href, text) {
  return el('a', {href}, text);
}
