// convnet board's page: the run list, overlaid uPlot charts, the configuration diff and conv1 filters. Data comes
// from the server (/api/*, already downsampled); changes arrive as server-sent events (/api/events), so the page
// never polls. window.board holds the state (the browser test reads it).
'use strict';
(() => {
  const $ = (s) => document.querySelector(s);
  const PALETTE = [
    '#1f77b4',
    '#d62728',
    '#2ca02c',
    '#ff7f0e',
    '#9467bd',
    '#8c564b',
    '#e377c2',
    '#17becf',
    '#bcbd22',
    '#555555',
  ];
  const CHARTS = [
    {
      key: 'loss',
      title: 'loss',
      step: 'loss',
      epoch: [
        ['trainLoss', 'train'],
        ['valLoss', 'val'],
      ],
    },
    {
      key: 'top1',
      title: 'top-1 error',
      step: 'top1Err',
      epoch: [
        ['trainTop1Err', 'train'],
        ['valTop1Err', 'val'],
      ],
    },
    {
      key: 'top5',
      title: 'top-5 error',
      step: 'top5Err',
      epoch: [
        ['trainTop5Err', 'train'],
        ['valTop5Err', 'val'],
      ],
    },
    { key: 'lr', title: 'learning rate', step: 'lr', epoch: [['lr', 'epoch']] },
    { key: 'ips', title: 'throughput (images/s)', step: 'imagesPerSec', epoch: [['imagesPerSec', 'epoch']] },
    { key: 'wait', title: 'data wait (share of the time)', step: 'dataWaitShare', epoch: [['dataWaitShare', 'epoch']] },
  ];
  const X_LABEL = { step: 'global step', epoch: 'epoch', time: 'training time (s)' };
  const board = (window.board = {
    runs: new Map(),
    selected: new Set(),
    series: new Map(),
    configs: new Map(),
    charts: {},
    colors: new Map(),
    painted: false,
    firstPaintMs: null,
    loading: 0,
    draws: 0,
    updates: 0,
    x: 'step',
    showSteps: true,
    chartSeries: {},
    /** Points drawn for a run's series in a chart: kind is 'step' or an epoch kind ('train', 'val', 'epoch'). */
    points(chart, id, kind) {
      const u = board.charts[chart];
      const meta = board.chartSeries[chart] || [];
      const i = meta.findIndex((m) => m.id === id && m.kind === kind);
      if (!u || i < 0) return 0;
      return u.data[i + 1].filter((v) => v !== null && v !== undefined).length;
    },
  });
  let nextColor = 0;
  const colorOf = (id) => {
    if (!board.colors.has(id)) board.colors.set(id, PALETTE[nextColor++ % PALETTE.length]);
    return board.colors.get(id);
  };
  const swatch = (id) => `<span class="swatch" style="background:${colorOf(id)}"></span>`;
  const esc = (s) =>
    String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  const pct = (v) => (v === null || v === undefined ? '' : (100 * v).toFixed(2) + '%');
  const ago = (iso) => {
    if (!iso) return '';
    const s = (Date.now() - Date.parse(iso)) / 1000;
    if (s < 90) return `${Math.max(0, Math.round(s))} s ago`;
    if (s < 5400) return `${Math.round(s / 60)} min ago`;
    if (s < 172800) return `${Math.round(s / 3600)} h ago`;
    return new Date(iso).toLocaleDateString();
  };
  const getJson = async (url) => {
    const r = await fetch(url, { cache: 'no-store' });
    if (!r.ok) throw Object.assign(new Error(`${url}: ${r.status}`), { status: r.status });
    return r.json();
  };

  // ---- the run list ----
  function sortedRuns() {
    return [...board.runs.values()].sort(
      (a, b) => (b.started || '').localeCompare(a.started || '') || a.name.localeCompare(b.name),
    );
  }
  function renderRuns() {
    const f = $('#filter').value.trim().toLowerCase();
    const rows = [];
    const all = sortedRuns();
    for (const r of all) {
      if (f && !`${r.name} ${r.model} ${r.data} ${r.recipe}`.toLowerCase().includes(f)) continue;
      const sel = board.selected.has(r.id);
      const title = r.reason ? ` title="${esc(r.reason)}"` : '';
      rows.push(
        `<tr data-id="${r.id}" class="${sel ? 'sel' : ''}">` +
          `<td><input type="checkbox" ${sel ? 'checked' : ''}>${sel ? swatch(r.id) : ''}</td>` +
          `<td title="${esc(r.root)}">${esc(r.name)}</td><td>${esc(r.model)}</td><td>${esc(r.data)}</td>` +
          `<td>${esc(r.recipe)}</td>` +
          `<td><span class="state ${r.state}"${title}>${r.state}</span></td>` +
          `<td class="num">${r.epochs}${r.epochsPlanned ? `/${r.epochsPlanned}` : ''}</td>` +
          `<td class="num">${pct(r.bestAcc)}</td><td class="num">${pct(r.lastAcc)}</td>` +
          `<td class="num">${r.imagesPerSec === null ? '' : Math.round(r.imagesPerSec)}</td>` +
          `<td>${esc(ago(r.started))}</td></tr>`,
      );
    }
    $('#runs tbody').innerHTML = rows.join('');
    $('#run-count').textContent = `${all.length} run${all.length === 1 ? '' : 's'}, ${board.selected.size} selected`;
  }
  $('#runs tbody').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr');
    if (!tr) return;
    const id = tr.dataset.id;
    if (board.selected.has(id)) board.selected.delete(id);
    else {
      board.selected.add(id);
      fetchSeries(id);
      fetchConfig(id);
    }
    saveSelection();
    renderRuns();
    drawSoon();
    renderConfig();
    renderFilters();
  });
  $('#filter').addEventListener('input', renderRuns);
  const saveSelection = () => history.replaceState(null, '', `#runs=${[...board.selected].join(',')}`);

  // ---- data ----
  const inflight = new Map();
  async function fetchSeries(id) {
    if (inflight.has(id)) {
      inflight.set(id, true);
      return;
    }
    inflight.set(id, false);
    try {
      const width = Math.max(200, Math.min(4000, Math.round(($('#charts').clientWidth || 1000) / 2)));
      const s = await getJson(`/api/series?run=${id}&buckets=${width}`);
      if (board.runs.has(id)) board.series.set(id, s);
      board.updates++;
      drawSoon();
    } catch (e) {
      if (e.status === 404) gone(id);
    } finally {
      const again = inflight.get(id);
      inflight.delete(id);
      if (again && board.selected.has(id)) setTimeout(() => fetchSeries(id), 250);
    }
  }
  async function fetchConfig(id) {
    try {
      board.configs.set(id, await getJson(`/api/config?run=${id}`));
      if (!board.loading) {
        renderConfig();
        renderFilters();
      }
    } catch (e) {
      if (e.status === 404) gone(id);
    }
  }
  async function fetchRuns() {
    const d = await getJson('/api/runs');
    $('#roots').textContent = d.roots.join(' · ');
    const ids = new Set(d.runs.map((r) => r.id));
    for (const id of [...board.runs.keys()]) if (!ids.has(id)) gone(id);
    for (const r of d.runs) board.runs.set(r.id, r);
    return d.runs;
  }
  function gone(id) {
    const r = board.runs.get(id);
    if (!r && !board.selected.has(id)) return;
    board.runs.delete(id);
    board.selected.delete(id);
    board.series.delete(id);
    board.configs.delete(id);
    if (r) $('#note').textContent = `run ${r.name} is gone (its folder was deleted or moved)`;
    saveSelection();
    renderRuns();
    drawSoon();
    renderConfig();
    renderFilters();
  }

  // ---- charts ----
  let drawPending = false;
  function drawSoon() {
    if (drawPending || board.loading) return;
    drawPending = true;
    requestAnimationFrame(() => {
      drawPending = false;
      draw();
    });
  }
  /** [x, y] with nulls and non-increasing x dropped (uPlot.join wants each table's x ascending). */
  function table(xs, ys) {
    const X = [],
      Y = [];
    let last = -Infinity;
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i],
        y = ys[i];
      if (x === null || y === null || y === undefined || !(x > last)) continue;
      X.push(x);
      Y.push(y);
      last = x;
    }
    return [X, Y];
  }
  /**
   * Legend names: the parts (split at - _ / and spaces) that tell the runs apart, e.g. the last part of
   * runs/small-bn-fashion-mnist-<time>-<hex> names; at most 28 characters.
   */
  function shortNames(names) {
    const parts = names.map((n) => n.split(/(?<=[-_/ ])/));
    let pre = 0;
    while (names.length > 1 && parts.every((p) => pre < p.length - 1 && p[pre] === parts[0][pre])) pre++;
    let suf = 0;
    while (
      names.length > 1 &&
      parts.every((p) => suf < p.length - pre - 1 && p[p.length - 1 - suf] === parts[0][parts[0].length - 1 - suf])
    )
      suf++;
    return parts.map((p) => {
      let n = p.slice(pre, p.length - suf).join('');
      if (n.length > 28) n = '…' + n.slice(-27);
      return n;
    });
  }
  function draw() {
    const t = performance.now();
    const host = $('#charts');
    const width = Math.max(
      300,
      Math.floor((host.clientWidth - 10) / Math.max(1, Math.floor(host.clientWidth / 530)) - 16),
    );
    const ids = [...board.selected].filter((id) => board.series.has(id) && board.runs.has(id));
    const short = shortNames(ids.map((id) => board.runs.get(id).name));
    for (const c of CHARTS) {
      const tables = [],
        meta = [],
        series = [{}];
      for (const id of ids) {
        const s = board.series.get(id),
          name = short[ids.indexOf(id)],
          color = colorOf(id);
        if (board.showSteps && s.steps[c.step] && s.steps[c.step].some((v) => v !== null)) {
          tables.push(table(s.steps[board.x], s.steps[c.step]));
          meta.push({ id, kind: 'step' });
          series.push({
            label: `${name} · step`,
            stroke: color + '66',
            width: 1,
            spanGaps: true,
            points: { show: false },
          });
        }
        for (const [key, kind] of c.epoch) {
          if (!s.epochs[key] || !s.epochs[key].some((v) => v !== null)) continue;
          tables.push(table(s.epochs[board.x], s.epochs[key]));
          meta.push({ id, kind });
          series.push({
            label: `${name} · ${kind}`,
            stroke: color,
            width: kind === 'train' ? 1.5 : 2,
            dash: kind === 'train' ? [6, 4] : undefined,
            spanGaps: true,
            points: { show: true, size: 5 },
          });
        }
      }
      let box = document.getElementById(`chart-${c.key}`);
      if (!box) {
        box = document.createElement('div');
        box.className = 'chart';
        box.id = `chart-${c.key}`;
        host.appendChild(box);
      }
      if (board.charts[c.key]) {
        board.charts[c.key].destroy();
        delete board.charts[c.key];
      }
      board.chartSeries[c.key] = meta;
      box.innerHTML = `<h3>${esc(c.title)}</h3>`;
      if (!tables.length) {
        box.insertAdjacentHTML(
          'beforeend',
          `<div class="empty">${ids.length ? 'no data yet' : 'select runs above'}</div>`,
        );
        continue;
      }
      const data = tables.length === 1 ? tables[0] : uPlot.join(tables);
      board.charts[c.key] = new uPlot(
        {
          width,
          height: 230,
          series,
          legend: { show: ids.length <= 8 },
          scales: { x: { time: false } },
          axes: [{ label: X_LABEL[board.x], size: 40 }, { size: 56 }],
          cursor: { sync: { key: 'convnet-board' } },
        },
        data,
        box,
      );
    }
    board.draws++;
    board.lastDrawMs = performance.now() - t;
    if (!board.painted && ids.length === [...board.selected].length) {
      board.painted = true;
      // since navigation start
      board.firstPaintMs = performance.now();
    }
  }
  $('#xaxis').addEventListener('change', (e) => {
    board.x = e.target.value;
    drawSoon();
  });
  $('#show-steps').addEventListener('change', (e) => {
    board.showSteps = e.target.checked;
    drawSoon();
  });
  let resizeTimer = null;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawSoon, 150);
  });

  // ---- configuration diff ----
  const show = (v) => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));
  function renderConfig() {
    const ids = [...board.selected].filter((id) => board.configs.has(id) && board.runs.has(id));
    const el = $('#config');
    if (!ids.length) {
      el.innerHTML = '<tr><td class="muted">select runs to see their settings</td></tr>';
      return;
    }
    const cfgs = ids.map((id) => board.configs.get(id).config || {});
    const keys = [...new Set(cfgs.flatMap((c) => Object.keys(c)))];
    const all = $('#all-keys').checked || ids.length === 1;
    const rows = [];
    for (const k of keys) {
      const vals = cfgs.map((c) => show(c[k]));
      const differs = vals.some((v) => v !== vals[0]);
      if (!all && !differs) continue;
      rows.push(
        `<tr><td class="key">${esc(k)}</td>` +
          vals.map((v) => `<td class="${differs ? 'diff' : ''}">${esc(v)}</td>`).join('') +
          '</tr>',
      );
    }
    const cols = ids.map((id) => `<th>${swatch(id)}${esc(board.runs.get(id).name)}</th>`);
    const head = `<tr><th>setting</th>${cols.join('')}</tr>`;
    el.innerHTML =
      head +
      (rows.length
        ? rows.join('')
        : `<tr><td class="muted" colspan="${ids.length + 1}">the selected runs have the same settings</td></tr>`);
  }
  $('#all-keys').addEventListener('change', renderConfig);

  // ---- conv1 filters ----
  function renderFilters() {
    const el = $('#filters');
    const parts = [];
    for (const id of board.selected) {
      const c = board.configs.get(id),
        r = board.runs.get(id);
      if (!c || !r || !c.filters || !c.filters.length) continue;
      const last = c.filters.length - 1;
      parts.push(
        `<div class="filter" data-id="${id}">${swatch(id)}${esc(r.name)}` +
          `<br><input type="range" min="0" max="${last}" value="${last}"> ` +
          `<span class="ep">epoch ${Number(c.filters[last].match(/epoch-(\d+)/)[1])}</span>` +
          `<img alt="conv1 filters" src="/api/filter?run=${id}&file=${encodeURIComponent(c.filters[last])}"></div>`,
      );
    }
    el.innerHTML = parts.length
      ? parts.join('')
      : '<span class="muted">no conv1 filter images in the selected runs (written after each epoch)</span>';
  }
  $('#filters').addEventListener('input', (ev) => {
    const box = ev.target.closest('.filter');
    const c = box && board.configs.get(box.dataset.id);
    if (!c) return;
    const f = c.filters[Number(ev.target.value)];
    box.querySelector('img').src = `/api/filter?run=${box.dataset.id}&file=${encodeURIComponent(f)}`;
    box.querySelector('.ep').textContent = `epoch ${Number(f.match(/epoch-(\d+)/)[1])}`;
  });

  // ---- live updates ----
  function connect() {
    const es = new EventSource('/api/events');
    es.onopen = () => {
      $('#live').textContent = 'live';
      $('#live').className = 'live on';
    };
    es.onerror = () => {
      $('#live').textContent = 'reconnecting…';
      $('#live').className = 'live off';
    };
    es.addEventListener('run', (ev) => {
      const r = JSON.parse(ev.data);
      const before = board.runs.get(r.id);
      board.runs.set(r.id, r);
      renderRuns();
      if (board.selected.has(r.id)) {
        fetchSeries(r.id);
        if (!before || before.filters !== r.filters || before.state !== r.state) fetchConfig(r.id);
      }
    });
    es.addEventListener('runs', () => {
      fetchRuns().then(renderRuns);
    });
    es.addEventListener('gone', (ev) => gone(JSON.parse(ev.data).id));
  }

  /** Fetches the curves of several runs (four requests at a time), draws once, then fetches their settings. */
  async function loadAll(ids) {
    const each = async (f) => {
      let next = 0;
      const worker = async () => {
        while (next < ids.length) await f(ids[next++]);
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
    };
    // the curves first (what the first paint needs), then the settings and filter pictures
    board.loading++;
    try {
      await each(fetchSeries);
    } finally {
      board.loading--;
    }
    draw();
    board.loading++;
    try {
      await each(fetchConfig);
    } finally {
      board.loading--;
    }
    renderConfig();
    renderFilters();
  }
  $('#select-all').addEventListener('change', async (ev) => {
    const f = $('#filter').value.trim().toLowerCase();
    const shown = sortedRuns()
      .filter((r) => !f || `${r.name} ${r.model} ${r.data} ${r.recipe}`.toLowerCase().includes(f))
      .map((r) => r.id);
    if (!ev.target.checked) board.selected.clear();
    const add = ev.target.checked ? shown.filter((id) => !board.selected.has(id)) : [];
    for (const id of add) board.selected.add(id);
    saveSelection();
    renderRuns();
    if (add.length) await loadAll(add);
    else draw();
    renderConfig();
    renderFilters();
  });

  async function start() {
    const runs = await fetchRuns();
    board.runsListedMs = performance.now();
    const fromHash = new URLSearchParams(location.hash.slice(1)).get('runs');
    const want = fromHash ? fromHash.split(',').filter((id) => board.runs.has(id)) : [];
    // default: the running runs and the newest, five at most
    const order = sortedRuns();
    const pick = want.length ? want : [...order.filter((r) => r.state === 'running'), ...order].map((r) => r.id);
    for (const id of pick) {
      if (board.selected.size >= 5 && !want.length) break;
      board.selected.add(id);
    }
    renderRuns();
    connect();
    await loadAll([...board.selected]);
    if (!runs.length) $('#note').textContent = 'no runs yet: they appear here when training starts';
  }
  start();
})();
