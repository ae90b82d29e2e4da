/* matrix-stripe support dashboard: the inbox of customer conversations,
   their transcripts, and insights for support leads. Served at /dashboard/,
   signed in with the side panel's sessions (a one-time link from the
   management room, then an HttpOnly cookie).

   The view lives in the fragment: #inbox, #insights, #transcript=<room>.
   The page's CSP allows no inline script or style. Names, emails, messages
   and Stripe's texts are untrusted: they only ever go in as text. */
(() => {
	'use strict';

	const TEXT = {
		signingIn: 'Signing in…',
		loading: 'Loading…',
		signedOut: 'You are not signed in, or your sign-in has ended.',
		linkUsed: 'This sign-in link was used already or has expired.',
		notStaff: 'The dashboard is for support staff.',
		signInFailed: 'The dashboard could not sign you in. Try again in a moment.',
		failed: 'The dashboard could not load this. Try again in a moment.',
		offline: 'The dashboard could not reach the bridge. Check your connection and try again.',
		badRange: 'The first day is after the last day.',
	};
	const REFRESH_MS = 30000;
	const SEARCH_DELAY_MS = 250;
	const ROLES = {customer: 'Customer', agent: 'Agent', assistant: 'Assistant', bot: 'Bot', billing: 'Billing'};
	const STATES = {open: 'Open', waiting: 'Waiting', resolved: 'Resolved'};

	const $ = (id) => document.getElementById(id);
	const ui = {
		status: $('status'), error: $('error'), tabs: $('tabs'), whoami: $('whoami'),
		signin: $('signin'), signinReason: $('signin-reason'), signinHelp: $('signin-help'),
		views: {inbox: $('view-inbox'), transcript: $('view-transcript'), insights: $('view-insights')},
		headings: {inbox: $('h-inbox'), transcript: $('h-transcript'), insights: $('h-insights')},
		account: $('filter-account'), state: $('filter-state'), assignee: $('filter-assignee'), q: $('filter-q'),
		rows: $('inbox-rows'), inboxTable: $('inbox-table'), inboxEmpty: $('inbox-empty'), target: $('response-target'),
		entries: $('transcript-entries'), transcriptEmpty: $('transcript-empty'), facts: $('transcript-facts'),
		iAccount: $('insights-account'), iFrom: $('insights-from'), iTo: $('insights-to'), iRefresh: $('insights-refresh'),
		chart: $('chart-per-day'), chartNote: $('chart-note'),
	};

	const numbers = new Intl.NumberFormat();
	const stamp = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeStyle: 'short'});
	const clock = new Intl.DateTimeFormat(undefined, {timeStyle: 'short'});
	const days = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium', timeZone: 'UTC'});

	let session = null; // {user_id, role, csrf_token} once signed in
	let view = null; // the view shown: inbox, transcript or insights
	let room = null; // the transcript's room
	let returnTo = null; // the room whose row gets focus back in the inbox
	let inboxLoadedAt = 0;
	const inflight = {}; // source → AbortController of its running request

	// ---- helpers ------------------------------------------------------------

	// el builds an element; strings among the children become text nodes,
	// never markup, and null/false/'' children are skipped.
	function el(tag, cls, ...children) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		for (const c of children) if (c !== null && c !== undefined && c !== false && c !== '') e.append(c);
		return e;
	}

	const str = (v) => (typeof v === 'string' ? v : '');
	const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
	const list = (v) => (Array.isArray(v) ? v.filter((x) => x && typeof x === 'object') : []);
	const human = (v) => str(v).replace(/_/g, ' ');
	const count = (v) => (num(v) === null ? '—' : numbers.format(v));
	const messageOf = (data, fallback) => (typeof data.message === 'string' && data.message) || fallback;

	// duration is "45 s", "4 min", "2 h 5 min" or "1 d 3 h"; "—" without one.
	function duration(seconds) {
		const s = num(seconds);
		if (s === null || s < 0) return '—';
		const whole = Math.floor(s);
		if (whole < 60) return whole + ' s';
		const m = Math.floor(whole / 60);
		if (m < 60) return m + ' min';
		const h = Math.floor(m / 60);
		if (h < 24) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
		const d = Math.floor(h / 24);
		return d + ' d' + (h % 24 ? ' ' + (h % 24) + ' h' : '');
	}

	function parseTime(iso) {
		const d = new Date(str(iso));
		return str(iso) && !Number.isNaN(d.getTime()) ? d : null;
	}

	// since is a <time> saying how long ago iso was ("12 min"), with the
	// full date as its tooltip; null without a time.
	function since(iso, suffix) {
		const d = parseTime(iso);
		if (!d) return null;
		const secs = Math.max(0, (Date.now() - d.getTime()) / 1000);
		const t = el('time', '', suffix && secs < 60 ? 'just now' : duration(secs) + (suffix || ''));
		t.dateTime = iso;
		t.title = stamp.format(d);
		return t;
	}

	function at(iso) {
		const d = parseTime(iso);
		if (!d) return null;
		const t = el('time', '', stamp.format(d));
		t.dateTime = iso;
		return t;
	}

	// link opens an outside page in a new tab, and only http(s) ones: a
	// javascript: URL from the data must not become clickable.
	function link(href, text, hidden) {
		let url;
		try { url = new URL(str(href)); } catch { return null; }
		if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
		const a = el('a', '', text, hidden && el('span', 'sr-only', hidden));
		a.href = url.href;
		a.target = '_blank';
		a.rel = 'noopener noreferrer';
		return a;
	}

	// sameOrigin is href if it points at this site, else null.
	function sameOrigin(href) {
		try {
			const url = new URL(str(href), location.href);
			return url.origin === location.origin ? url.href : null;
		} catch { return null; }
	}

	// setOptions fills a select, keeping what was chosen even when the
	// answer no longer lists it; an unchanged list is left alone, so a
	// refresh does not close a select the user has open.
	function setOptions(select, options) {
		const keep = select.value;
		if (keep && !options.some(([v]) => v === keep)) options.push([keep, keep]);
		const sig = JSON.stringify(options);
		if (select.dataset.sig === sig) return;
		select.replaceChildren(...options.map(([v, label]) => new Option(label, v)));
		select.value = keep;
		select.dataset.sig = sig;
	}

	const accountOptions = (accounts) =>
		[['', 'All']].concat(list(accounts).map((a) => [str(a.id), str(a.name) || str(a.id)]).filter(([v]) => v));

	// Dates of the insights' inputs: YYYY-MM-DD, counted in whole UTC days
	// so that a daylight saving change cannot skip or repeat one.
	const pad2 = (n) => String(n).padStart(2, '0');
	const today = () => { const d = new Date(); return d.getFullYear() + '-' + pad2(d.getMonth() + 1) + '-' + pad2(d.getDate()); };
	const isDay = (v) => /^\d{4}-\d{2}-\d{2}$/.test(str(v)) && !Number.isNaN(Date.parse(v + 'T00:00:00Z'));
	function addDays(day, n) {
		const d = new Date(day + 'T00:00:00Z');
		d.setUTCDate(d.getUTCDate() + n);
		return d.toISOString().slice(0, 10);
	}
	const dayText = (day) => (isDay(day) ? days.format(new Date(day + 'T00:00:00Z')) : str(day));

	// ---- status, errors and the API ------------------------------------------

	function setStatus(text) { ui.status.textContent = text; }

	// The error line belongs to whichever load failed last; that load's
	// next success clears it, others leave it standing.
	function showError(text, source) {
		ui.error.textContent = text;
		ui.error.dataset.source = source || '';
		ui.error.hidden = false;
		setStatus('');
	}
	function clearError(source) {
		if (ui.error.hidden || (source && ui.error.dataset.source !== source)) return;
		ui.error.hidden = true;
		ui.error.textContent = '';
	}

	async function api(method, path, body, signal) {
		const headers = {Accept: 'application/json'};
		const init = {method, headers, credentials: 'same-origin', cache: 'no-store', signal};
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const res = await fetch(path, init);
		let data = null;
		try { data = await res.json(); } catch { /* not JSON: a proxy's error page */ }
		return {status: res.status, data: data && typeof data === 'object' && !Array.isArray(data) ? data : {}};
	}

	// load GETs path for source (a view), cancelling that source's previous
	// request. It answers the data, or null after saying why not.
	async function load(source, path) {
		if (inflight[source]) inflight[source].abort();
		const ctl = new AbortController();
		inflight[source] = ctl;
		let res = null;
		try {
			res = await api('GET', path, undefined, ctl.signal);
		} catch { /* offline or aborted: below */ }
		if (ctl.signal.aborted) return null;
		delete inflight[source];
		if (!res) {
			showError(TEXT.offline, source);
		} else if (res.status === 200) {
			clearError(source);
			return res.data;
		} else if (res.status === 401) {
			signInScreen(res.data.error === 'link_used' ? TEXT.linkUsed : TEXT.signedOut, true);
		} else if (res.status === 403 && res.data.error === 'for_support_staff') {
			signInScreen(TEXT.notStaff, false);
		} else {
			showError(messageOf(res.data, TEXT.failed), source);
		}
		return null;
	}

	// ---- signing in -----------------------------------------------------------

	function signInScreen(reason, help) {
		session = null;
		for (const [source, c] of Object.entries(inflight)) { c.abort(); delete inflight[source]; }
		for (const v of Object.values(ui.views)) v.hidden = true;
		ui.tabs.hidden = true;
		ui.whoami.hidden = true;
		clearError();
		setStatus('');
		$('h-signin').textContent = help ? 'Sign in' : 'No access';
		ui.signinReason.textContent = reason;
		ui.signinHelp.hidden = !help;
		ui.signin.hidden = false;
		document.title = 'Sign in · Support dashboard';
	}

	async function signIn(request) {
		setStatus(TEXT.signingIn);
		let res;
		try {
			res = await request();
		} catch {
			showError(TEXT.offline, 'session');
			return;
		}
		if (res.status === 200 && str(res.data.user_id)) {
			session = {user_id: res.data.user_id, role: str(res.data.role), csrf_token: str(res.data.csrf_token)};
			$('user-id').textContent = session.user_id;
			$('user-role').textContent = human(session.role);
			$('user-role').hidden = !session.role;
			ui.whoami.hidden = false;
			ui.tabs.hidden = false;
			ui.signin.hidden = true;
			clearError('session');
			setStatus('');
			route(false);
		} else if (res.status === 401) {
			signInScreen(res.data.error === 'link_used' ? TEXT.linkUsed : TEXT.signedOut, true);
		} else if (res.status === 403 && res.data.error === 'for_support_staff') {
			signInScreen(TEXT.notStaff, false);
		} else {
			showError(messageOf(res.data, TEXT.signInFailed), 'session');
		}
	}

	// ---- views ------------------------------------------------------------------

	function parseHash() {
		const h = location.hash.slice(1);
		if (h.startsWith('transcript=')) {
			try {
				const r = decodeURIComponent(h.slice('transcript='.length));
				if (r) return {view: 'transcript', room: r};
			} catch { /* a mangled fragment: the inbox */ }
		}
		return {view: h === 'insights' ? 'insights' : 'inbox'};
	}

	// route shows the fragment's view; moved is whether the user went there
	// (then focus follows, for keyboards and screen readers).
	function route(moved) {
		if (!session) return;
		const next = parseHash();
		if (view === 'transcript' && next.view === 'inbox') returnTo = room;
		view = next.view;
		// An error of the view left behind no longer applies.
		if (!['session', view].includes(ui.error.dataset.source)) clearError();
		for (const [name, section] of Object.entries(ui.views)) section.hidden = name !== view;
		for (const name of ['inbox', 'insights']) {
			const tab = $('tab-' + name);
			if (name === view) tab.setAttribute('aria-current', 'page');
			else tab.removeAttribute('aria-current');
		}
		if (view === 'inbox') {
			document.title = 'Inbox · Support dashboard';
			if (!(returnTo && focusRow(returnTo)) && moved) ui.headings.inbox.focus();
			loadInbox(false);
		} else if (view === 'insights') {
			document.title = 'Insights · Support dashboard';
			if (moved) ui.headings.insights.focus();
			loadInsights();
		} else {
			if (next.room !== room) clearTranscript();
			room = next.room;
			if (moved) ui.headings.transcript.focus();
			loadTranscript(room);
		}
	}

	// ---- inbox ------------------------------------------------------------------

	function inboxQuery() {
		const p = new URLSearchParams();
		for (const [key, input] of [['account', ui.account], ['state', ui.state], ['assignee', ui.assignee], ['q', ui.q]]) {
			const v = input.value.trim();
			if (v) p.set(key, v);
		}
		const s = p.toString();
		return s ? '?' + s : '';
	}

	async function loadInbox(quiet) {
		if (!quiet) setStatus(TEXT.loading);
		const data = await load('inbox', '/dashboard/api/inbox' + inboxQuery());
		if (!data || view !== 'inbox') return;
		inboxLoadedAt = Date.now();
		renderInbox(data);
		// The 30-second refreshes stay out of the live status line, which a
		// screen reader would read out each time.
		if (!quiet) setStatus('Inbox updated ' + clock.format(new Date()) + '.');
	}

	function rowOf(roomID) {
		for (const tr of ui.rows.rows) if (tr.dataset.roomId === roomID) return tr;
		return null;
	}

	function focusRow(roomID) {
		const tr = rowOf(roomID);
		if (tr) { tr.focus(); returnTo = null; }
		return !!tr;
	}

	function cell(label, ...children) {
		const td = el('td', '', ...children);
		td.dataset.label = label;
		return td;
	}

	const openRoom = (roomID) => { location.hash = 'transcript=' + encodeURIComponent(roomID); };

	function conversationRow(c) {
		const roomID = str(c.room_id);
		const name = str(c.name) || 'Unnamed customer';
		const open = el('a', 'customer', name);
		open.href = '#transcript=' + encodeURIComponent(roomID);
		open.tabIndex = -1; // the row is the keyboard's stop; the link is for screen readers
		const who = ROLES[c.last_message_by];
		const overdue = c.overdue === true;
		const tr = el('tr', 'conversation' + (overdue ? ' overdue' : ''),
			cell('Customer', open, str(c.email) && el('div', 'sub', c.email), str(c.customer_id) && el('small', 'id', c.customer_id)),
			cell('Account', str(c.account_name) || str(c.account_id)),
			cell('State', STATES[c.state] ? el('span', 'badge state-' + c.state, STATES[c.state]) : human(c.state)),
			cell('Assignee', str(c.assignee) || el('span', 'muted', 'Unassigned')),
			cell('Last message', since(c.last_message_at, ' ago') || '—', who && el('div', 'sub', who)),
			cell('Waiting since', since(c.waiting_since) || '—', overdue && el('div', 'overdue-marker', '⚠ past target')),
			cell('First response', duration(c.first_response_seconds)),
			cell('Stripe', link(c.stripe_url, 'Stripe', ' (' + name + ', opens in a new tab)')),
		);
		tr.dataset.roomId = roomID;
		tr.tabIndex = 0;
		return tr;
	}

	function renderInbox(data) {
		setOptions(ui.account, accountOptions(data.accounts));
		setOptions(ui.assignee, [['', 'All'], ['none', 'Unassigned']].concat(
			(Array.isArray(data.assignees) ? data.assignees : []).filter((a) => str(a) && a !== 'none').map((a) => [a, a])));
		const target = num(data.response_target_seconds);
		const rows = list(data.conversations).filter((c) => str(c.room_id));
		const overdue = rows.filter((c) => c.overdue === true).length;
		ui.target.textContent = numbers.format(rows.length) + (rows.length === 1 ? ' conversation' : ' conversations') +
			(overdue ? ', ' + numbers.format(overdue) + ' past target' : '') +
			(target !== null ? ' · response target: ' + duration(target) : '') + ' · updated ' + clock.format(new Date());

		const focused = document.activeElement;
		const keep = focused && ui.rows.contains(focused) ? focused.closest('tr').dataset.roomId : returnTo;
		ui.rows.replaceChildren(...rows.map(conversationRow));
		ui.inboxTable.hidden = rows.length === 0;
		ui.inboxEmpty.hidden = rows.length !== 0;
		if (keep) focusRow(keep);
		returnTo = null; // gone from the list: a later refresh must not steal focus
	}

	function rowEvent(ev) {
		const tr = ev.target.closest('tr.conversation');
		if (!tr || ev.target.closest('a[target]')) return; // the Stripe link does its own thing
		if (ev.type === 'keydown' && (ev.key !== 'Enter' || ev.target !== tr)) return;
		if (ev.type === 'click' && ev.target.closest('a')) return; // the name link already navigates
		if (ev.type === 'click' && String(window.getSelection())) return; // copying an email, not opening
		ev.preventDefault();
		openRoom(tr.dataset.roomId);
	}

	let searchTimer = 0;
	function searchSoon() {
		clearTimeout(searchTimer);
		searchTimer = setTimeout(() => loadInbox(false), SEARCH_DELAY_MS);
	}

	// ---- transcript ---------------------------------------------------------------

	function clearTranscript() {
		ui.headings.transcript.textContent = 'Transcript';
		ui.facts.replaceChildren();
		ui.entries.replaceChildren();
		ui.transcriptEmpty.hidden = true;
	}

	function setExports(roomID) {
		const base = '/dashboard/api/rooms/' + encodeURIComponent(roomID) + '/transcript';
		$('export-json').href = base + '.json';
		$('export-csv').href = base + '.csv';
		$('export-html').href = base + '.html';
	}

	async function loadTranscript(roomID) {
		setExports(roomID);
		setStatus(TEXT.loading);
		const data = await load('transcript', '/dashboard/api/rooms/' + encodeURIComponent(roomID) + '/transcript');
		if (view !== 'transcript' || room !== roomID) return;
		if (!data) { clearTranscript(); return; }
		renderTranscript(data);
		setStatus('Transcript loaded ' + clock.format(new Date()) + '.');
	}

	function facts(rows) {
		const out = [];
		for (const [label, value] of rows) if (value) out.push(el('dt', '', label), el('dd', '', value));
		return out;
	}

	function entry(e) {
		const role = ROLES[e.role] ? e.role : '';
		const billing = e.kind === 'billing';
		const who = str(e.sender_name) || str(e.sender) || ROLES[role] || 'Unknown';
		const name = el('span', 'who', who);
		if (str(e.sender) && e.sender !== who) name.title = e.sender;
		return el('li', 'entry ' + (billing ? 'billing' : 'message') + (role ? ' role-' + role : ''),
			el('div', 'meta', at(e.ts), name, role && el('span', 'badge role', ROLES[role]), billing && el('span', 'badge event', 'Billing event')),
			el('p', 'body', str(e.body)));
	}

	function renderTranscript(t) {
		const name = str(t.name) || 'Unnamed customer';
		ui.headings.transcript.textContent = name;
		document.title = name + ' · Transcript · Support dashboard';
		ui.facts.replaceChildren(...facts([
			['Email', str(t.email)], ['Customer', str(t.customer_id)], ['Account', str(t.account_id)], ['Room', str(t.room_id) || room],
		]));
		const entries = list(t.entries);
		ui.entries.replaceChildren(...entries.map(entry));
		ui.transcriptEmpty.hidden = entries.length !== 0;
	}

	// ---- insights -------------------------------------------------------------------

	function insightsQuery() {
		const p = new URLSearchParams();
		if (ui.iAccount.value) p.set('account', ui.iAccount.value);
		if (isDay(ui.iFrom.value)) p.set('from', ui.iFrom.value);
		if (isDay(ui.iTo.value)) p.set('to', addDays(ui.iTo.value, 1));
		return p;
	}

	async function loadInsights() {
		if (!ui.iFrom.value && !ui.iTo.value) {
			ui.iTo.value = today();
			ui.iFrom.value = addDays(ui.iTo.value, -29);
		}
		if (isDay(ui.iFrom.value) && isDay(ui.iTo.value) && ui.iFrom.value > ui.iTo.value) {
			showError(TEXT.badRange, 'insights');
			return;
		}
		setStatus(TEXT.loading);
		ui.iRefresh.disabled = true;
		const p = insightsQuery().toString();
		const data = await load('insights', '/dashboard/api/insights' + (p ? '?' + p : ''));
		ui.iRefresh.disabled = false;
		if (!data || view !== 'insights') return;
		renderInsights(data);
		setStatus('Insights updated ' + clock.format(new Date()) + '.');
	}

	const setText = (id, text) => { $(id).textContent = text; };
	const part = (v) => (v && typeof v === 'object' ? v : {});

	function fillTable(id, rows, empty, columns) {
		const body = $(id).tBodies[0];
		if (!rows.length) {
			const td = el('td', 'empty', empty);
			td.colSpan = columns;
			body.replaceChildren(el('tr', '', td));
			return;
		}
		body.replaceChildren(...rows.map((cells) => el('tr', '', ...cells.map(([text, cls]) => el('td', cls || '', text)))));
	}

	function csat(c) {
		const score = num(c.score);
		if (score === null) return '—';
		const up = num(c.up) || 0;
		const answered = up + (num(c.down) || 0);
		return Math.round(score * 100) + '% 👍 (' + numbers.format(up) + ' of ' + numbers.format(answered) + ')';
	}

	function renderInsights(d) {
		setOptions(ui.iAccount, accountOptions(d.accounts));
		if (isDay(d.from)) ui.iFrom.value = d.from;
		if (isDay(d.to)) ui.iTo.value = addDays(d.to, -1);
		setText('insights-period', isDay(d.from) && isDay(d.to)
			? dayText(d.from) + ' to ' + dayText(addDays(d.to, -1)) + ', both included.' : '');

		const fr = part(d.first_response), res = part(d.resolution), as = part(d.assistant), c = part(d.csat);
		setText('insights-conversations', count(d.conversations));
		setText('insights-first-response-median', duration(fr.median_seconds));
		setText('insights-first-response-p90', duration(fr.p90_seconds));
		setText('insights-first-response-count', num(fr.count) === null ? '' : count(fr.count) + ' measured');
		setText('insights-resolution-median', duration(res.median_seconds));
		setText('insights-resolution-p90', duration(res.p90_seconds));
		setText('insights-resolution-count', num(res.count) === null ? '' : count(res.count) + ' resolved');
		setText('insights-assistant-answered', count(as.answered));
		setText('insights-assistant-handed-off', count(as.handed_off));
		setText('csat-score', csat(c));
		setText('csat-asked', count(c.asked));

		const src = sameOrigin(part(d.charts).per_day);
		ui.chartNote.hidden = true;
		if (src) {
			if (ui.chart.src !== src) ui.chart.src = src;
			ui.chart.hidden = false;
		} else {
			ui.chart.removeAttribute('src');
			ui.chart.hidden = true;
		}

		fillTable('per-day', list(d.per_day).map((p) => [[dayText(p.date)], [count(p.count), 'num']]), 'No conversations.', 2);
		fillTable('intents', list(as.top_intents).map((i) => [[human(i.intent) || '—'], [count(i.count), 'num']]),
			'The assistant saw no questions.', 2);
		fillTable('writes', list(d.writes).map((w) => [[str(w.command) || '—'], [count(w.count), 'num'],
			[list(w.amounts).map((a) => str(a.formatted) || (count(a.amount) + ' ' + str(a.currency).toUpperCase())).join(', ') || '—']]),
		'No billing changes.', 3);
	}

	// ---- start ------------------------------------------------------------------------

	ui.rows.addEventListener('click', rowEvent);
	ui.rows.addEventListener('keydown', rowEvent);
	for (const s of [ui.account, ui.state, ui.assignee]) s.addEventListener('change', () => loadInbox(false));
	ui.q.addEventListener('input', searchSoon);
	ui.q.addEventListener('keydown', (ev) => {
		if (ev.key !== 'Enter') return;
		ev.preventDefault();
		clearTimeout(searchTimer);
		loadInbox(false);
	});
	ui.iAccount.addEventListener('change', loadInsights);
	for (const input of [ui.iFrom, ui.iTo]) {
		input.addEventListener('change', () => { if (!input.value || isDay(input.value)) loadInsights(); });
		input.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') { ev.preventDefault(); loadInsights(); } });
	}
	ui.iRefresh.addEventListener('click', loadInsights);
	ui.chart.addEventListener('error', () => {
		if (!ui.chart.getAttribute('src')) return;
		ui.chart.hidden = true;
		ui.chartNote.hidden = false;
	});

	// The inbox refreshes itself while someone looks at it, and at once
	// when the tab comes back after a while.
	const visible = () => document.visibilityState === 'visible';
	const refreshInbox = () => {
		if (session && view === 'inbox' && visible() && !inflight.inbox) loadInbox(true);
	};
	setInterval(refreshInbox, REFRESH_MS);
	document.addEventListener('visibilitychange', () => {
		if (Date.now() - inboxLoadedAt >= REFRESH_MS) refreshInbox();
	});

	// A sign-in link's token is in the fragment, which no server sees; it is
	// used once and dropped from the address (and the history) first. A link
	// pasted into an open tab arrives as a hashchange.
	function useLink() {
		const parts = location.hash.slice(1).split('&');
		const linkPart = parts.find((p) => p.startsWith('link='));
		if (!linkPart) return false;
		let token = '';
		try { token = decodeURIComponent(linkPart.slice('link='.length)); } catch { /* mangled: no token */ }
		const rest = parts.filter((p) => p && !p.startsWith('link=')).join('&');
		history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : ''));
		signIn(token ? () => api('POST', '/panel/v1/link', {token}) : () => api('GET', '/panel/v1/session'));
		return true;
	}

	window.addEventListener('hashchange', () => { if (!useLink()) route(true); });
	if (!useLink()) signIn(() => api('GET', '/panel/v1/session'));
})();
