// Bandwidth: bytes sent versus what full downloads would have cost, over time (SVG chart from
// GET /api/v1/stats/bandwidth) and as money at a price per GB (10^9 bytes): the server's
// configured price, which can be overridden in this page (kept in this browser only).

import {allDevices, getOptional} from './api.js';
import {bytes, el, svg} from './dom.js';

const PRICE_KEY = 'oxide.pricePerGb';
let bucket = 'hour';

export function affects(ev) { return ev.type === 'campaign.device' && ev.data.state === 'completed'; }

export async function render(ctx) {
  const now = Math.floor(Date.now() / 1000);
  const from = now - (bucket === 'hour' ? 48 * 3600 : 60 * 86400);
  const stats = await getOptional('/api/v1/stats/bandwidth?bucket=' + bucket + '&from=' + from +
                                  '&to=' + now);
  let total;
  let note = null;
  if (stats) {
    total = stats.total || {};
  } else {
    // Without the series: the totals booked on each device.
    const devices = await allDevices();
    total = {bytes_served: 0, bytes_full_equivalent: 0};
    for (const d of devices) {
      total.bytes_served += d.bytes_served || 0;
      total.bytes_full_equivalent += d.bytes_full_equivalent || 0;
    }
    total.bytes_saved = Math.max(0, total.bytes_full_equivalent - total.bytes_served);
    note = el('p', {class: 'note', dataset: {testid: 'bandwidth-unavailable'}},
              'Bandwidth over time is not available on this server (no ',
              el('code', {}, 'GET /api/v1/stats/bandwidth'), '): totals below are the sums ' +
              'booked on each device.');
  }
  const serverPrice = stats && typeof stats.price_per_gb === 'number' ? stats.price_per_gb : 0;
  const currency = (stats && stats.currency) || 'USD';
  const stored = localStorage.getItem(PRICE_KEY);
  const price = stored !== null && stored !== '' ? Number(stored) : serverPrice;

  const money = el('div', {class: 'cards', dataset: {testid: 'money'}});
  const drawMoney = (p) => {
    const cost = (b) => (b / 1e9 * p).toFixed(2) + ' ' + currency;
    money.replaceChildren(
        card('sent', bytes(total.bytes_served), cost(total.bytes_served || 0)),
        card('full downloads would be', bytes(total.bytes_full_equivalent),
             cost(total.bytes_full_equivalent || 0)),
        card('saved', bytes(total.bytes_saved), cost(total.bytes_saved || 0), 'good'),
        card('saved %', total.bytes_full_equivalent
                            ? (100 * (total.bytes_saved || 0) / total.bytes_full_equivalent)
                                  .toFixed(1) + ' %'
                            : '–', ''));
  };
  drawMoney(price);
  const input = el('input', {type: 'number', min: 0, step: 0.001, value: String(price),
                             id: 'price', 'aria-label': 'price per GB'});
  input.addEventListener('input', () => {
    const v = Number(input.value);
    if (input.value !== '' && Number.isFinite(v) && v >= 0) {
      localStorage.setItem(PRICE_KEY, String(v));
      drawMoney(v);
    }
  });
  const reset = el('button', {type: 'button', class: 'link', onclick: () => {
    localStorage.removeItem(PRICE_KEY);
    input.value = String(serverPrice);
    drawMoney(serverPrice);
  }}, 'use the server\'s price (' + serverPrice + ' ' + currency + ')');
  const select = el('select', {'aria-label': 'bucket', onchange: (e) => {
    bucket = e.target.value;
    ctx.refresh(0);
  }}, el('option', {value: 'hour', selected: bucket === 'hour'}, 'per hour (48 h)'),
      el('option', {value: 'day', selected: bucket === 'day'}, 'per day (60 days)'));

  return el('div', {},
    el('h1', {}, 'Bandwidth'),
    note,
    el('div', {class: 'toolbar'},
       el('label', {for: 'price'}, 'Price per GB (', currency, ') '), input, ' ', reset,
       stats ? [' · ', select] : null),
    money,
    stats ? chart(stats.series || []) : null);
}

function card(label, value, sub, cls) {
  return el('div', {class: 'card ' + (cls || '')}, el('div', {class: 'value'}, value),
            el('div', {class: 'label'}, label), sub ? el('div', {class: 'sub'}, sub) : null);
}

// Grouped bars per bucket: full-download equivalent (grey) behind bytes sent (blue).
function chart(series) {
  const W = 900;
  const H = 260;
  const L = 70;
  const B = 30;
  const T = 10;
  const root = svg('svg', {viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img',
                           'data-testid': 'bandwidth-chart'});
  root.appendChild(svg('title', {}, 'bytes sent versus full downloads over time'));
  if (!series.length) {
    root.appendChild(svg('text', {x: W / 2, y: H / 2, 'text-anchor': 'middle'},
                         'no downloads in this period'));
    return el('figure', {}, root);
  }
  const max = Math.max(1, ...series.map((p) => Math.max(p.bytes_full_equivalent || 0,
                                                        p.bytes_served || 0)));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (let i = 0; i <= 4; i++) {
    const v = (max * i) / 4;
    root.appendChild(svg('line', {x1: L, x2: W, y1: y(v), y2: y(v), class: 'grid'}));
    root.appendChild(svg('text', {x: L - 6, y: y(v) + 4, 'text-anchor': 'end'}, bytes(v)));
  }
  const step = (W - L) / series.length;
  const w = Math.max(1, step * 0.7);
  const labelEvery = Math.ceil(series.length / 8);
  series.forEach((p, i) => {
    const x = L + i * step + (step - w) / 2;
    const full = p.bytes_full_equivalent || 0;
    const sent = p.bytes_served || 0;
    const t = new Date(p.t * 1000);
    const tip = t.toLocaleString() + ': sent ' + bytes(sent) + ', full ' + bytes(full);
    root.appendChild(svg('rect', {x, y: y(full), width: w, height: H - B - y(full),
                                  class: 'full'}, svg('title', {}, tip)));
    root.appendChild(svg('rect', {x: x + w * 0.2, y: y(sent), width: w * 0.6,
                                  height: H - B - y(sent), class: 'sent'}, svg('title', {}, tip)));
    if (i % labelEvery === 0) {
      const text = bucket === 'hour' ? t.getHours().toString().padStart(2, '0') + ':00'
                                     : t.toLocaleDateString();
      root.appendChild(svg('text', {x: x + w / 2, y: H - 10, 'text-anchor': 'middle'}, text));
    }
  });
  return el('figure', {},
            root,
            el('figcaption', {}, el('span', {class: 'key full'}), ' full downloads  ',
               el('span', {class: 'key sent'}), ' bytes sent'));
}
