// woodwork bus dashboard: the page's one script. Plain JavaScript and standard web APIs only (no
// framework, no build step). Every value that comes from the bus is written with textContent or
// as an attribute value, never parsed as HTML, so a payload or an error text holding markup or
// script shows as text and never runs.
'use strict';
(() => {
  const TOKEN_KEY = 'woodwork-bus-ui-token';
  const token = new URLSearchParams(location.search).get('token') || '';
  // The token leaves the address bar and the history; this tab keeps it for a reload.
  try {
    sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage is off: a reload asks for the token again.
  }
  history.replaceState(null, '', '/' + location.hash);
  const csrfToken = document.querySelector('meta[name="csrf-token"]').content;
  const refreshMs = Number(document.querySelector('meta[name="refresh-ms"]').content) || 2000;
  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function showNotice(text) {
    const notice = $('notice');
    notice.textContent = text;
    notice.hidden = !text;
  }

  async function api(path, options = {}) {
    const headers = { Authorization: 'Bearer ' + token, Accept: 'application/json' };
    let body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['X-CSRF-Token'] = csrfToken;
      body = JSON.stringify(options.json);
    }
    const response = await fetch(path, { method: options.method || 'GET', headers, body, cache: 'no-store' });
    if (response.status === 401) {
      showNotice('The dashboard refused the token: open the link that woodwork-bus ui printed.');
      throw new Error('the token was refused');
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || 'HTTP ' + response.status);
    return data;
  }

  // ---------- formatting ----------
  const plural = (n, word) => n.toLocaleString('en-US') + ' ' + word + (n === 1 ? '' : 's');
  const number = (n) => (typeof n === 'number' ? n.toLocaleString('en-US') : '–');

  function age(ms) {
    if (ms === null) return '–';
    if (typeof ms !== 'number') return 'n/a';
    if (ms < 1000) return Math.round(ms) + ' ms';
    const s = ms / 1000;
    if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min';
    if (s < 86400) return (s / 3600).toFixed(1) + ' h';
    return (s / 86400).toFixed(1) + ' d';
  }

  function dateTime(seconds) {
    if (typeof seconds !== 'number' || !Number.isFinite(seconds)) return '–';
    const d = new Date(seconds * 1000);
    return Number.isNaN(d.getTime()) ? '–' : d.toISOString().replace('T', ' ').slice(0, 19) + ' UTC';
  }

  function clock(seconds) {
    const d = new Date(seconds * 1000);
    return Number.isNaN(d.getTime()) ? '–' : d.toISOString().slice(11, 23);
  }

  // ---------- confirmation ----------
  function confirmAction(text, okLabel) {
    const dialog = $('confirm');
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel;
    return new Promise((resolve) => {
      const done = (ok) => {
        $('confirm-ok').removeEventListener('click', onOk);
        $('confirm-cancel').removeEventListener('click', onCancel);
        dialog.removeEventListener('close', onClose);
        if (dialog.open) dialog.close();
        resolve(ok);
      };
      const onOk = (event) => {
        event.preventDefault();
        done(true);
      };
      const onCancel = (event) => {
        event.preventDefault();
        done(false);
      };
      const onClose = () => done(false);
      $('confirm-ok').addEventListener('click', onOk);
      $('confirm-cancel').addEventListener('click', onCancel);
      dialog.addEventListener('close', onClose);
      dialog.showModal();
      $('confirm-cancel').focus();
    });
  }

  function describeRedrive(result) {
    const parts = ['Redriven ' + plural(result.redriven.length, 'dead letter') + '.'];
    if (result.skipped.length > 0) {
      parts.push('Skipped ' + result.skipped.length + ': ' + result.skipped.slice(0, 5).map((s) => s.id + ' (' + s.reason + ')').join('; ') + (result.skipped.length > 5 ? '; …' : '') + '.');
    }
    if (result.notFound.length > 0) parts.push(plural(result.notFound.length, 'record') + ' no longer there.');
    return parts.join(' ');
  }

  function describePurge(result) {
    return 'Purged ' + plural(result.purged, 'dead letter') + '.' + (result.notFound.length > 0 ? ' ' + plural(result.notFound.length, 'record') + ' no longer there.' : '');
  }

  // ---------- overview ----------
  const CARDS = [
    ['status', 'Status'],
    ['published', 'Published'],
    ['consumed', 'Consumed'],
    ['failed', 'Failed attempts'],
    ['deadLettered', 'Dead-lettered'],
    ['dlq', 'Dead letters now'],
    ['subscriptions', 'Subscriptions'],
    ['p50', 'Handler p50'],
    ['p99', 'Handler p99'],
    ['violations', 'Order violations'],
  ];

  const overview = {
    on: false,
    timer: undefined,
    values: new Map(),
    build() {
      const cards = $('overview-cards');
      for (const [key, label] of CARDS) {
        const card = el('div', undefined, 'card');
        const value = el('div', '–', 'value');
        value.dataset.metric = key;
        card.append(el('div', label, 'label'), value);
        cards.append(card);
        this.values.set(key, value);
      }
    },
    active(on) {
      this.on = on;
      clearTimeout(this.timer);
      if (on) this.refresh();
    },
    async refresh() {
      clearTimeout(this.timer);
      if (!this.on) return;
      try {
        this.render(await api('/api/overview'));
      } catch (error) {
        $('overview-updated').textContent = 'refresh failed: ' + error.message;
      }
      if (this.on) this.timer = setTimeout(() => this.refresh(), document.hidden ? refreshMs * 5 : refreshMs);
    },
    render(data) {
      $('backend').textContent = 'backend: ' + data.backend;
      const m = data.metrics;
      const set = (key, text) => (this.values.get(key).textContent = text);
      const status = this.values.get('status');
      status.textContent = data.status;
      status.className = 'value status-' + data.status;
      set('published', number(m.messagesPublishedTotal));
      set('consumed', number(m.messagesConsumedTotal));
      set('failed', number(m.messagesFailedTotal));
      set('deadLettered', number(m.messagesDeadLetteredTotal));
      set('dlq', number(m.deadLetterQueueSize));
      set('subscriptions', number(m.activeSubscriptions));
      set('p50', m.messageProcessingTimeMs.p50Ms.toFixed(1) + ' ms');
      set('p99', m.messageProcessingTimeMs.p99Ms.toFixed(1) + ' ms');
      set('violations', number(m.orderViolationsTotal));
      $('overview-error').hidden = !data.error;
      $('overview-error').textContent = data.error || '';
      const rows = data.groups.map((g) => {
        const row = el('tr');
        row.dataset.group = g.group;
        const cells = [
          [g.group],
          [g.eventPattern],
          [g.sessionId === null ? '–' : g.sessionId],
          [number(g.consumers), 'num'],
          [number(g.pending), 'num pending'],
          [number(g.lag), 'num lag'],
          [age(g.oldestPendingAgeMs), 'num oldest'],
          [dateTime(g.lastActiveAt)],
        ];
        for (const [text, className] of cells) {
          const td = el('td', text, className);
          td.title = text;
          row.append(td);
        }
        return row;
      });
      $('groups-body').replaceChildren(...rows);
      $('groups-empty').hidden = rows.length > 0;
      $('overview-details').textContent = JSON.stringify({ details: data.details, expiredGroups: data.expiredGroups }, null, 2);
      $('overview-updated').textContent = 'updated ' + new Date(data.checkedAt * 1000).toLocaleTimeString() + ', every ' + refreshMs / 1000 + ' s';
    },
  };

  // ---------- dead letters ----------
  const deadLetters = {
    query: {},
    offset: 0,
    limit: 50,
    total: 0,
    selected: new Set(),
    busy: false,
    readFilter() {
      const form = new FormData($('dl-filter'));
      const query = {};
      for (const key of ['group', 'eventType', 'sessionId']) {
        const value = String(form.get(key) || '').trim();
        if (value) query[key] = value;
      }
      const minutes = (key) => {
        const value = String(form.get(key) || '').trim();
        return value === '' ? undefined : Math.round(Number(value) * 60000);
      };
      const older = minutes('olderThanMin');
      const newer = minutes('newerThanMin');
      if (older !== undefined && Number.isFinite(older)) query.olderThanMs = String(older);
      if (newer !== undefined && Number.isFinite(newer)) query.newerThanMs = String(newer);
      this.query = query;
    },
    describeFilter() {
      const names = { group: 'group', eventType: 'event type', sessionId: 'session', olderThanMs: 'older than', newerThanMs: 'newer than' };
      const parts = Object.entries(this.query).map(([k, v]) => names[k] + ' ' + (k.endsWith('Ms') ? age(Number(v)) : v));
      return parts.length === 0 ? 'every dead letter' : 'every dead letter with ' + parts.join(', ');
    },
    async load() {
      const params = new URLSearchParams({ ...this.query, offset: String(this.offset), limit: String(this.limit) });
      let page;
      try {
        page = await api('/api/dead-letters?' + params);
      } catch (error) {
        $('dl-result').textContent = 'Could not list dead letters: ' + error.message;
        return;
      }
      if (page.total > 0 && this.offset >= page.total) {
        this.offset = Math.floor((page.total - 1) / this.limit) * this.limit;
        return this.load();
      }
      this.render(page);
    },
    render(page) {
      this.total = page.total;
      const rows = page.rows.map((r) => {
        const row = el('tr');
        row.dataset.id = r.id;
        const box = el('input');
        box.type = 'checkbox';
        box.checked = this.selected.has(r.id);
        box.setAttribute('aria-label', 'Select dead letter ' + r.id);
        box.addEventListener('change', () => {
          if (box.checked) this.selected.add(r.id);
          else this.selected.delete(r.id);
          this.updateButtons();
        });
        const check = el('td', undefined, 'check');
        check.append(box);
        const open = el('a', 'Open');
        open.href = '#record/' + encodeURIComponent(r.id);
        open.setAttribute('aria-label', 'Open dead letter ' + r.id);
        const openCell = el('td');
        openCell.append(open);
        const texts = [
          [dateTime(r.failedAt)],
          [r.group],
          [r.eventType],
          [r.sessionId],
          [String(r.attempts), 'num'],
          [r.error, 'error-cell'],
        ];
        row.append(check);
        for (const [text, className] of texts) {
          const td = el('td', text, className);
          td.title = text;
          row.append(td);
        }
        row.append(openCell);
        return row;
      });
      $('dl-body').replaceChildren(...rows);
      $('dl-empty').hidden = rows.length > 0;
      const pages = Math.max(1, Math.ceil(page.total / this.limit));
      const current = Math.floor(this.offset / this.limit) + 1;
      $('dl-page').textContent = 'Page ' + current + ' of ' + pages;
      $('dl-count').textContent = plural(page.total, 'dead letter') + (page.truncated ? ' (the listing reached its scan limit: there may be more)' : '');
      $('dl-first').disabled = $('dl-prev').disabled = current <= 1;
      $('dl-next').disabled = $('dl-last').disabled = current >= pages;
      this.updateButtons();
    },
    updateButtons() {
      const n = this.selected.size;
      $('dl-redrive-selected').textContent = 'Redrive selected (' + n + ')';
      $('dl-purge-selected').textContent = 'Purge selected (' + n + ')';
      $('dl-redrive-selected').disabled = $('dl-purge-selected').disabled = $('dl-clear-selection').disabled = n === 0 || this.busy;
      const boxes = [...$('dl-body').querySelectorAll('input[type="checkbox"]')];
      $('dl-select-page').checked = boxes.length > 0 && boxes.every((b) => b.checked);
    },
    async act(kind, ids, what) {
      const verb = kind === 'redrive' ? 'Redrive' : 'Purge';
      const note = kind === 'redrive' ? ' Each goes back to the group that gave up on it.' : ' This cannot be undone.';
      if (!(await confirmAction(verb + ' ' + what + '?' + note, verb))) {
        $('dl-result').textContent = verb + ' cancelled.';
        return false;
      }
      this.busy = true;
      this.updateButtons();
      $('dl-result').textContent = verb + ' running…';
      try {
        const result = await api('/api/dead-letters/' + kind, { method: 'POST', json: { ids } });
        $('dl-result').textContent = kind === 'redrive' ? describeRedrive(result) : describePurge(result);
        for (const id of ids) this.selected.delete(id);
        return true;
      } catch (error) {
        $('dl-result').textContent = verb + ' failed: ' + error.message;
        return false;
      } finally {
        this.busy = false;
        await this.load();
      }
    },
    async actOnSelection(kind) {
      const ids = [...this.selected];
      if (ids.length > 0) await this.act(kind, ids, plural(ids.length, 'selected dead letter'));
    },
    async actOnFilter(kind) {
      let matched;
      try {
        matched = await api('/api/dead-letters/ids?' + new URLSearchParams(this.query));
      } catch (error) {
        $('dl-result').textContent = 'Could not list the matching dead letters: ' + error.message;
        return;
      }
      if (matched.ids.length === 0) {
        $('dl-result').textContent = 'No dead letter matches the filter.';
        return;
      }
      const what = plural(matched.ids.length, 'dead letter') + ' (' + this.describeFilter() + ')' + (matched.truncated ? ', the first ones the scan limit allows' : '');
      await this.act(kind, matched.ids, what);
    },
    bind() {
      $('dl-filter').addEventListener('submit', (event) => {
        event.preventDefault();
        this.readFilter();
        this.offset = 0;
        this.load();
      });
      $('dl-filter').addEventListener('reset', () => {
        setTimeout(() => {
          this.readFilter();
          this.offset = 0;
          this.load();
        });
      });
      const go = (offset) => {
        this.offset = Math.max(0, offset);
        this.load();
      };
      $('dl-first').addEventListener('click', () => go(0));
      $('dl-prev').addEventListener('click', () => go(this.offset - this.limit));
      $('dl-next').addEventListener('click', () => go(this.offset + this.limit));
      $('dl-last').addEventListener('click', () => go(Math.floor(Math.max(0, this.total - 1) / this.limit) * this.limit));
      $('dl-page-size').addEventListener('change', (event) => {
        this.limit = Number(event.target.value);
        go(0);
      });
      $('dl-select-page').addEventListener('change', (event) => {
        for (const box of $('dl-body').querySelectorAll('input[type="checkbox"]')) {
          box.checked = event.target.checked;
          const id = box.closest('tr').dataset.id;
          if (box.checked) this.selected.add(id);
          else this.selected.delete(id);
        }
        this.updateButtons();
      });
      $('dl-clear-selection').addEventListener('click', () => {
        this.selected.clear();
        for (const box of $('dl-body').querySelectorAll('input[type="checkbox"]')) box.checked = false;
        this.updateButtons();
      });
      $('dl-redrive-selected').addEventListener('click', () => this.actOnSelection('redrive'));
      $('dl-purge-selected').addEventListener('click', () => this.actOnSelection('purge'));
      $('dl-redrive-filter').addEventListener('click', () => this.actOnFilter('redrive'));
      $('dl-purge-filter').addEventListener('click', () => this.actOnFilter('purge'));
    },
  };

  // ---------- one record ----------
  const record = {
    id: undefined,
    async load(id) {
      this.id = id;
      $('record-result').textContent = '';
      $('record-fields').replaceChildren();
      $('record-error').textContent = '';
      $('record-envelope').textContent = '';
      $('record-raw-wrap').hidden = true;
      $('record-redrive').disabled = $('record-purge').disabled = true;
      let r;
      try {
        r = await api('/api/dead-letters/record?' + new URLSearchParams({ id }));
      } catch (error) {
        if (this.id === id) $('record-result').textContent = error.message;
        return;
      }
      if (this.id !== id) return;
      const e = r.envelope || {};
      const fields = [
        ['Id', r.dead_letter_id],
        ['Group', r.group],
        ['Source', r.original_stream + ' ' + r.original_message_id],
        ['Attempts', String(r.attempts)],
        ['First failed', dateTime(r.first_failed_at)],
        ['Last failed', dateTime(r.failed_at)],
        ['Message id', e.message_id],
        ['Session', e.session_id],
        ['Event type', e.event_type],
        ['From', e.component_source],
        ['To', e.component_target == null ? '–' : e.component_target],
        ['Pattern', e.pattern],
        ['Delivery', e.delivery_mode],
        ['Published', dateTime(e.timestamp)],
      ];
      const list = [];
      for (const [label, value] of fields) list.push(el('dt', label), el('dd', value == null ? '–' : value));
      $('record-fields').replaceChildren(...list);
      let error = r.error_type + (r.error_code ? ' [' + r.error_code + ']' : '') + ': ' + r.error;
      if (r.error_cause) error += '\ncaused by ' + r.error_cause.error_type + (r.error_cause.error_code ? ' [' + r.error_cause.error_code + ']' : '') + ': ' + r.error_cause.error;
      $('record-error').textContent = error;
      $('record-envelope').textContent = JSON.stringify(e, null, 2);
      if (r.raw_entry !== undefined) {
        $('record-raw-wrap').hidden = false;
        $('record-raw').textContent = r.raw_entry;
      }
      $('record-redrive').disabled = $('record-purge').disabled = false;
    },
    async act(kind) {
      const id = this.id;
      const verb = kind === 'redrive' ? 'Redrive' : 'Purge';
      if (!(await confirmAction(verb + ' dead letter ' + id + '?' + (kind === 'purge' ? ' This cannot be undone.' : ''), verb))) {
        $('record-result').textContent = verb + ' cancelled.';
        return;
      }
      $('record-redrive').disabled = $('record-purge').disabled = true;
      try {
        const result = await api('/api/dead-letters/' + kind, { method: 'POST', json: { ids: [id] } });
        const text = kind === 'redrive' ? describeRedrive(result) : describePurge(result);
        const gone = kind === 'redrive' ? result.redriven.length > 0 : result.purged > 0;
        $('record-result').textContent = text;
        if (!gone) $('record-redrive').disabled = $('record-purge').disabled = false;
      } catch (error) {
        $('record-result').textContent = verb + ' failed: ' + error.message;
        $('record-redrive').disabled = $('record-purge').disabled = false;
      }
    },
    bind() {
      $('record-redrive').addEventListener('click', () => this.act('redrive'));
      $('record-purge').addEventListener('click', () => this.act('purge'));
    },
  };

  // ---------- live tail ----------
  const ROW = 28;
  const KEEP = 1000;
  const tail = {
    messages: [],
    pool: [],
    controller: undefined,
    paused: false,
    held: [],
    heldDropped: 0,
    serverDropped: 0,
    follow: true,
    frame: 0,
    state: 'stopped',
    setState(text) {
      this.state = text;
      this.showState();
    },
    showState() {
      let text = this.state;
      if (this.state === 'live' || this.paused) text += ' · ' + plural(this.messages.length, 'message');
      if (this.paused) text += ', ' + this.held.length + ' waiting';
      if (this.serverDropped + this.heldDropped > 0) text += ', ' + (this.serverDropped + this.heldDropped) + ' dropped';
      $('tail-state').textContent = text;
    },
    ensurePool() {
      const scroller = $('tail-scroller');
      const wanted = Math.ceil(Math.max(scroller.clientHeight, 240) / ROW) + 2;
      while (this.pool.length < wanted) {
        const row = el('div', undefined, 'tail-row empty');
        for (let i = 0; i < 5; i++) row.append(el('span'));
        $('tail-window').append(row);
        this.pool.push(row);
      }
    },
    visible(on) {
      if (on) {
        this.ensurePool();
        if (!this.controller) this.start();
      } else {
        this.stop();
      }
    },
    filterParams() {
      const form = new FormData($('tail-filter'));
      const params = new URLSearchParams();
      for (const key of ['sessionId', 'eventType']) {
        const value = String(form.get(key) || '').trim();
        if (value) params.set(key, value);
      }
      return params;
    },
    async start() {
      this.stop();
      const controller = new AbortController();
      this.controller = controller;
      this.setState('connecting…');
      try {
        const response = await fetch('/api/tail?' + this.filterParams(), {
          headers: { Authorization: 'Bearer ' + token, Accept: 'text/event-stream' },
          signal: controller.signal,
          cache: 'no-store',
        });
        if (!response.ok) {
          const data = await response.json().catch(() => ({}));
          throw new Error(data.error || 'HTTP ' + response.status);
        }
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            this.onFrame(frame);
          }
        }
        if (this.controller === controller) {
          this.controller = undefined;
          $('tail-pause').disabled = true;
          this.setState('stopped: the dashboard ended the stream');
        }
      } catch (error) {
        if (controller.signal.aborted) return;
        if (this.controller === controller) this.controller = undefined;
        $('tail-pause').disabled = true;
        this.setState('stopped: ' + error.message);
      }
    },
    stop() {
      if (this.controller) {
        this.controller.abort();
        this.controller = undefined;
      }
      $('tail-pause').disabled = true;
      this.setState('stopped');
    },
    onFrame(frame) {
      let event = 'message';
      let data = '';
      for (const line of frame.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data += (data ? '\n' : '') + value;
      }
      if (event === 'ready') {
        $('tail-pause').disabled = false;
        this.setState('live');
      } else if (event === 'message') {
        this.add(JSON.parse(data));
      } else if (event === 'dropped') {
        this.serverDropped += Number(data) || 0;
        this.showState();
      }
    },
    add(message) {
      if (this.paused) {
        if (this.held.length < KEEP) this.held.push(message);
        else this.heldDropped++;
        this.showState();
        return;
      }
      this.messages.push(message);
      this.schedule();
    },
    togglePause() {
      this.paused = !this.paused;
      $('tail-pause').textContent = this.paused ? 'Resume' : 'Pause';
      $('tail-pause').setAttribute('aria-pressed', String(this.paused));
      if (!this.paused) {
        this.messages.push(...this.held);
        this.held = [];
        this.schedule();
      }
      this.showState();
    },
    clear() {
      this.messages = [];
      this.held = [];
      this.heldDropped = 0;
      this.serverDropped = 0;
      this.follow = true;
      this.schedule();
      this.showState();
    },
    schedule() {
      if (!this.frame) this.frame = requestAnimationFrame(() => this.render());
    },
    render() {
      this.frame = 0;
      const scroller = $('tail-scroller');
      const excess = this.messages.length - KEEP;
      if (excess > 0) {
        this.messages.splice(0, excess);
        if (!this.follow) scroller.scrollTop = Math.max(0, scroller.scrollTop - excess * ROW);
      }
      $('tail-spacer').style.height = this.messages.length * ROW + 'px';
      if (this.follow) scroller.scrollTop = scroller.scrollHeight;
      this.paint();
      this.showState();
    },
    paint() {
      const scroller = $('tail-scroller');
      const first = Math.max(0, Math.min(Math.floor(scroller.scrollTop / ROW), this.messages.length - 1));
      $('tail-window').style.transform = 'translateY(' + first * ROW + 'px)';
      this.pool.forEach((row, i) => {
        const m = this.messages[first + i];
        const cells = row.children;
        if (!m) {
          row.classList.add('empty');
          delete row.dataset.messageId;
          return;
        }
        row.classList.remove('empty');
        row.dataset.messageId = m.messageId;
        const texts = [clock(m.timestamp), m.eventType, m.sessionId, m.source + ' → ' + (m.target === null ? '*' : m.target), m.payload];
        for (let c = 0; c < 5; c++) {
          if (cells[c].textContent !== texts[c]) cells[c].textContent = texts[c];
          cells[c].title = texts[c];
        }
      });
    },
    bind() {
      $('tail-filter').addEventListener('submit', (event) => {
        event.preventDefault();
        this.start();
      });
      $('tail-pause').addEventListener('click', () => this.togglePause());
      $('tail-clear').addEventListener('click', () => this.clear());
      const scroller = $('tail-scroller');
      scroller.addEventListener('scroll', () => {
        this.follow = scroller.scrollTop + scroller.clientHeight >= scroller.scrollHeight - ROW;
        this.paint();
      });
      window.addEventListener('resize', () => {
        if (!$('page-tail').hidden) {
          this.ensurePool();
          this.paint();
        }
      });
    },
  };

  // ---------- pages ----------
  const PAGES = ['overview', 'dead-letters', 'record', 'tail'];
  const TITLES = { overview: 'Overview', 'dead-letters': 'Dead letters', record: 'Dead letter', tail: 'Live tail' };

  function route() {
    const hash = location.hash.slice(1);
    if (hash.startsWith('record/')) return { page: 'record', id: decodeURIComponent(hash.slice('record/'.length)) };
    return { page: PAGES.includes(hash) && hash !== 'record' ? hash : 'overview' };
  }

  function show() {
    const r = route();
    for (const page of PAGES) $('page-' + page).hidden = page !== r.page;
    for (const link of document.querySelectorAll('nav a[data-page]')) {
      const current = link.dataset.page === r.page || (r.page === 'record' && link.dataset.page === 'dead-letters');
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    document.title = TITLES[r.page] + ' · woodwork bus';
    overview.active(r.page === 'overview');
    tail.visible(r.page === 'tail');
    if (r.page === 'dead-letters') deadLetters.load();
    if (r.page === 'record') record.load(r.id);
  }

  overview.build();
  deadLetters.bind();
  record.bind();
  tail.bind();
  window.addEventListener('hashchange', () => {
    show();
    $('main').focus({ preventScroll: true });
  });
  show();
})();
