/* matrix-stripe agent side panel: a customer room's Stripe billing, shown to
   support staff beside the room's timeline.

   Widget mode (Element appends widgetId and parentUrl to the widget's URL):
   the Matrix Widget API gets an OpenID token from Element, which POST
   session trades for a panel session. Browser mode (no widgetId): a tab
   signed in by a one-time link already has the session cookie. Then
   rooms/<room>/summary is rendered.

   The page's CSP allows no inline script or style. Names, emails and
   Stripe's texts are untrusted: they only ever go in as text. */
(() => {
	'use strict';

	const TEXT = {
		noRoom: 'Open this panel from a customer room.',
		noParent: 'The panel was opened without Element\'s address (parentUrl), so it cannot talk to Element.',
		waiting: 'Waiting for Element…',
		asking: 'Element is asking you whether to share your identity with the panel…',
		noAnswer: 'Element did not answer the panel. Reload it to try again.',
		blocked: 'Element did not share your identity with the panel, so it cannot show billing data.',
		signingIn: 'Signing in…',
		notStaff: 'This panel is for support staff.',
		signedOut: 'Your sign-in has expired. Reopen the panel from the room in Element, or send panel in the management room for a link.',
		signInFailed: 'The panel could not sign you in. Try again in a moment.',
		loading: 'Loading…',
		summaryFailed: 'The panel could not load this room\'s billing. Try again in a moment.',
		offline: 'The panel could not reach the bridge. Check your connection and try again.',
		working: 'Working…',
		actionFailed: 'The bridge could not do this. Try again in a moment.',
		actionOffline: 'The panel could not reach the bridge, so it does not know whether this went through. Try again sends the same request: it cannot happen twice.',
		expired: 'The prepared action expired; nothing was done. Prepare it again if it is still wanted.',
		done: 'Done.',
		refused: 'Nothing was done.',
		noAmount: 'Enter the amount to credit.',
		noPrice: 'Enter the id of the new price (price_…).',
		live: '● live',
		reconnecting: 'reconnecting…',
	};
	const SECTIONS = ['customer', 'payment-methods', 'subscriptions', 'invoices', 'payments', 'refunds', 'disputes', 'conversation'];
	// Long enough for a slow client, short enough that a page that is not
	// Element (or an old one) does not leave the agent staring at "Waiting".
	const OPENID_TIMEOUT_MS = 20000;
	// An action's request is sent again after these pauses when the bridge
	// could not be reached; the same request_id makes that safe.
	const RETRY_DELAYS_MS = [1000, 3000];
	// The live stream reconnects after 2 s, doubling up to 30 s.
	const LIVE_FIRST_DELAY_MS = 2000;
	const LIVE_MAX_DELAY_MS = 30000;
	// A stream up this long was healthy: the next drop starts over at 2 s.
	const LIVE_HEALTHY_MS = 5000;

	const params = new URLSearchParams(location.search);
	const room = params.get('room');
	const widgetId = params.get('widgetId');
	const dates = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium'});
	const clock = new Intl.DateTimeFormat(undefined, {timeStyle: 'short'});

	const $ = (id) => document.getElementById(id);
	const ui = {
		status: $('status'), refresh: $('refresh'), summary: $('summary'), live: $('live'),
		resultRow: $('result-row'), result: $('action-result'), retry: $('action-retry'), dismiss: $('action-dismiss'),
		confirm: $('confirm-box'), confirmSummary: $('confirm-summary'), confirmNotes: $('confirm-notes'),
		confirmExpires: $('confirm-expires'), confirmGo: $('confirm-go'), confirmCancel: $('confirm-cancel'),
	};
	const roomPath = 'rooms/' + encodeURIComponent(room || '');

	// Kept in memory only. The token is the server's answer to Element's
	// frame, where a SameSite cookie is not sent; without one the cookie
	// carries the session. The CSRF token is for state-changing actions.
	const session = {token: null, csrf: null, user: ''};
	// ended: the session is over (signed out, or not staff); nothing more
	// is asked of the server.
	let ended = false;

	// ---- status and errors --------------------------------------------------

	function setStatus(text, isError) {
		ui.status.textContent = text;
		ui.status.classList.toggle('error', !!isError);
	}

	// fail leaves nothing but the sentence: stale or partial billing next
	// to an error would be read as current.
	function fail(text) {
		setStatus(text, true);
		ui.summary.hidden = true;
		ui.refresh.hidden = true;
		for (const id of SECTIONS) $(id).replaceChildren();
		stopLive();
		openForms.clear();
		closeConfirm();
		clearResult();
	}

	// signedOut ends the page's session: what the server said no longer
	// holds, and only reopening the panel signs in again.
	function signedOut(text) {
		ended = true;
		fail(text);
	}

	const messageOf = (data, fallback) => (typeof data.message === 'string' && data.message) || fallback;

	// ---- the panel's API ----------------------------------------------------

	// api asks the panel's API; extra are more headers (the CSRF token).
	// The answer's Date is the server's clock, for countdowns.
	async function api(method, path, body, extra) {
		const headers = {Accept: 'application/json', ...extra};
		if (session.token) headers.Authorization = 'Bearer ' + session.token;
		const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const res = await fetch(path, init);
		let data = null;
		try { data = await res.json(); } catch { /* not JSON: a proxy's error page */ }
		return {status: res.status, data: data && typeof data === 'object' ? data : {}, date: Date.parse(res.headers.get('Date') || '')};
	}

	// startSession signs in with Element's OpenID credentials, or (creds
	// null, browser mode) asks whether the cookie still holds a session.
	function startSession(creds) {
		signIn(creds
			? () => api('POST', 'session', {
				access_token: creds.access_token, matrix_server_name: creds.matrix_server_name,
				expires_in: creds.expires_in, token_type: creds.token_type,
			})
			: () => api('GET', 'session'),
		creds ? null : TEXT.signedOut);
	}

	// signIn runs one way of signing in (request) and takes its answer: the
	// session, or the sentence for why not. signedOutText is what a 401
	// says, when it means an ended session rather than a refused sign-in.
	async function signIn(request, signedOutText) {
		setStatus(TEXT.signingIn);
		let res;
		try {
			res = await request();
		} catch {
			fail(TEXT.offline);
			return;
		}
		if (res.status === 200) {
			session.token = typeof res.data.token === 'string' && res.data.token ? res.data.token : null;
			session.csrf = typeof res.data.csrf_token === 'string' && res.data.csrf_token ? res.data.csrf_token : null;
			session.user = str(res.data.user_id);
			reload();
		} else if (res.status === 403 && res.data.error === 'for_support_staff') {
			signedOut(TEXT.notStaff);
		} else if (res.status === 401 && signedOutText) {
			signedOut(signedOutText);
		} else {
			fail(messageOf(res.data, TEXT.signInFailed));
		}
	}

	// reload loads the summary, coalesced: with one load under way, any
	// number of asks make one more load after it.
	const loads = {running: false, queued: false};
	async function reload() {
		if (ended) return;
		if (loads.running) {
			loads.queued = true;
			return;
		}
		loads.running = true;
		try {
			do {
				loads.queued = false;
				await loadSummary();
			} while (loads.queued && !ended);
		} finally {
			loads.running = false;
		}
	}

	async function loadSummary() {
		ui.refresh.disabled = true;
		setStatus(TEXT.loading);
		let res = null;
		try {
			res = await api('GET', roomPath + '/summary');
		} catch { /* offline: below */ }
		ui.refresh.disabled = false;
		if (ended) return;
		if (res && res.status === 200) {
			render(res.data);
			ui.refresh.hidden = false;
			setStatus('Updated ' + clock.format(new Date()) + '.');
			startLive();
		} else if (res && [401, 403, 404].includes(res.status)) {
			if (res.status === 401) signedOut(messageOf(res.data, TEXT.summaryFailed));
			else fail(messageOf(res.data, TEXT.summaryFailed));
			// Someone may still fix the room (or the role); a signed-out
			// session cannot be refreshed back.
			ui.refresh.hidden = res.status === 401;
		} else {
			// A passing outage: what is shown stays, marked as not updated.
			setStatus(res ? messageOf(res.data, TEXT.summaryFailed) : TEXT.offline, true);
			ui.refresh.hidden = false;
		}
	}

	// ---- rendering ----------------------------------------------------------

	// el builds an element; strings among the children become text nodes,
	// never markup, and null/false/'' children are skipped.
	function el(tag, cls, ...children) {
		const e = document.createElement(tag);
		if (cls) e.className = cls;
		for (const c of children) if (c !== null && c !== undefined && c !== false && c !== '') e.append(c);
		return e;
	}

	const str = (v) => (typeof v === 'string' ? v : '');
	const human = (v) => str(v).replace(/_/g, ' ');
	const pad2 = (n) => String(n).padStart(2, '0');

	function date(iso) {
		const d = new Date(str(iso));
		if (!iso || Number.isNaN(d.getTime())) return null;
		const t = el('time', '', dates.format(d));
		t.dateTime = iso;
		return t;
	}

	// dated is "Renews <date>" and the like, or nothing without a date.
	function dated(label, iso, cls) {
		const d = date(iso);
		return d && el('p', cls || 'sub', label + ' ', d);
	}

	// link opens Stripe's pages in a new tab, and only http(s) ones: a
	// javascript: URL from the data must not become clickable.
	function link(href, text) {
		let url;
		try { url = new URL(str(href)); } catch { return null; }
		if (url.protocol !== 'https:' && url.protocol !== 'http:') return null;
		const a = el('a', '', text);
		a.href = url.href;
		a.target = '_blank';
		a.rel = 'noopener noreferrer';
		return a;
	}

	function links(...as) {
		const present = as.filter(Boolean);
		return present.length ? el('p', 'links', ...present) : null;
	}

	const stripeLink = (href) => link(href, 'Open in Stripe');

	const TONES = {
		active: 'good', trialing: 'good', succeeded: 'good', paid: 'good', won: 'good',
		past_due: 'warn', unpaid: 'warn', incomplete: 'warn', pending: 'warn', requires_action: 'warn',
		needs_response: 'warn', under_review: 'warn', warning_needs_response: 'warn', warning_under_review: 'warn',
		canceled: 'bad', failed: 'bad', incomplete_expired: 'bad', lost: 'bad',
	};

	const badge = (text, tone) => el('span', 'badge' + (tone ? ' tone-' + tone : ''), text);
	const statusBadge = (status) => str(status) && badge(human(status), TONES[status]);

	// item is one line of a list: a title with badges, something to the
	// right (an amount, a date), and lines under it.
	function item(main, aside, ...below) {
		return el('li', 'item', el('div', 'row', el('span', 'main', ...main), aside && el('span', 'aside', aside)), ...below);
	}

	function fillList(id, items, empty, renderItem) {
		const list = Array.isArray(items) ? items.filter((x) => x && typeof x === 'object') : [];
		$(id).replaceChildren(list.length ? el('ul', 'items', ...list.map(renderItem)) : el('p', 'empty', empty));
	}

	// facts is a label/value list; rows without a value are left out.
	function facts(rows) {
		const dl = el('dl', 'facts');
		for (const [label, value] of rows) if (value) dl.append(el('dt', '', label), el('dd', '', value));
		return dl;
	}

	function renderCustomer(c) {
		const box = $('customer');
		if (!c || typeof c !== 'object') {
			box.replaceChildren(el('p', 'empty', 'No Stripe customer is linked to this room.'));
			return;
		}
		box.replaceChildren(
			el('p', 'name', el('span', 'title', str(c.name) || 'Unnamed customer'), c.delinquent === true && badge('Delinquent', 'bad')),
			facts([['Email', str(c.email)], ['ID', str(c.id)], ['Customer since', date(c.created)], ['Balance', str(c.balance_display)]]),
			links(stripeLink(c.dashboard_url)),
			actions(
				inlineForm({
					key: 'credit', label: 'Add credit…', command: 'credit', submit: 'Prepare credit',
					fields: [
						{name: 'amount', label: 'Amount', placeholder: '10.00', inputMode: 'decimal'},
						{name: 'note', label: 'Note (optional)', placeholder: 'e.g. sorry for the outage'},
					],
					args: (v) => (v.amount.trim() ? [v.amount.trim(), ...words(v.note)] : {error: TEXT.noAmount, field: 'amount'}),
				}),
				actButton('Billing portal link', 'portal', []),
			),
		);
	}

	function paymentMethod(pm) {
		const exp = pm.exp_month > 0 && pm.exp_year > 0 ? 'Exp ' + pad2(pm.exp_month) + '/' + pad2(pm.exp_year % 100) : '';
		const name = (str(pm.brand) || 'Card') + (str(pm.last4) ? ' •••• ' + pm.last4 : '');
		const li = item([el('span', 'title', name), pm.default === true && badge('Default')], exp,
			pm.expires_soon === true && el('p', 'sub warning', 'Expires before the next renewal'));
		if (pm.expires_soon === true) li.classList.add('expiring');
		return li;
	}

	function subscription(sub) {
		const over = sub.status === 'canceled' || sub.status === 'incomplete_expired';
		return item(
			[el('span', 'title', str(sub.plan) || 'Subscription'), statusBadge(sub.status), sub.paused === true && badge('Paused', 'warn')],
			str(sub.amount_display),
			!over && dated(sub.cancel_at_period_end === true ? 'Ends' : 'Renews', sub.current_period_end),
			dated('Trial until', sub.trial_end),
			links(stripeLink(sub.dashboard_url)),
			!over && str(sub.id) && subscriptionActions(sub),
		);
	}

	// subscriptionActions offers what can happen to a subscription that has
	// not ended; the bridge checks each again.
	function subscriptionActions(sub) {
		const id = sub.id;
		const ending = sub.cancel_at_period_end === true;
		return actions(
			sub.paused === true ? actButton('Resume collection', 'unpause', [id], {id}) : actButton('Pause', 'pause', [id], {id}),
			(ending || sub.status === 'paused') && actButton('Resume', 'resume', [id], {id}),
			inlineForm({
				key: 'change-plan ' + id, label: 'Change plan…', command: 'change-plan', id, submit: 'Prepare plan change',
				fields: [
					{name: 'price', label: 'New price', placeholder: 'price_…'},
					{name: 'proration', label: 'Proration', options: [['prorate', 'Prorate'], ['none', 'No proration']]},
				],
				args: (v) => (v.price.trim() ? [id, v.price.trim(), v.proration || 'prorate'] : {error: TEXT.noPrice, field: 'price'}),
			}),
			!ending && actButton('Cancel at period end', 'cancel', [id, 'period-end'], {id, danger: true}),
			actButton('Cancel now', 'cancel', [id, 'now'], {id, danger: true}),
		);
	}

	function invoice(inv) {
		const id = str(inv.id);
		return item([el('span', 'title', str(inv.number) || id || 'Invoice')], str(inv.amount_display),
			dated('Due', inv.due_date),
			links(link(inv.hosted_invoice_url, 'Pay link'), stripeLink(inv.dashboard_url)),
			id && actions(
				inv.sends_email === true && actButton('Resend', 'send', [id], {id}),
				actButton('Void', 'void', [id], {id, danger: true}),
			));
	}

	const REFUND_REASONS = [['', 'No reason'], ['duplicate', 'Duplicate'], ['fraudulent', 'Fraudulent'], ['requested_by_customer', 'Requested by customer']];

	function payment(p) {
		const failed = p.status === 'failed';
		const id = str(p.id);
		const li = item([el('span', 'title', str(p.amount_display)), statusBadge(p.status), p.refunded === true && badge('Refunded')],
			date(p.created),
			failed && str(p.failure_message) && el('p', 'sub failure', p.failure_message),
			links(stripeLink(p.dashboard_url)),
			id && str(p.refundable_display) && actions(inlineForm({
				key: 'refund ' + id, label: 'Refund…', command: 'refund', id, submit: 'Prepare refund', danger: true,
				fields: [
					{name: 'amount', label: 'Amount (empty: full refund)', placeholder: p.refundable_display, inputMode: 'decimal'},
					{name: 'reason', label: 'Reason', options: REFUND_REASONS},
				],
				args: (v) => [id, ...(v.amount.trim() ? [v.amount.trim()] : []), ...(v.reason ? [v.reason] : [])],
			})));
		if (failed) li.classList.add('failed');
		return li;
	}

	function refund(r) {
		return item([el('span', 'title', str(r.amount_display)), statusBadge(r.status)], date(r.created));
	}

	function dispute(d) {
		return item([el('span', 'title', str(d.amount_display)), statusBadge(d.status)], human(d.reason),
			dated('Evidence due', d.due_by, 'sub warning'),
			links(stripeLink(d.dashboard_url)));
	}

	function renderConversation(c) {
		const box = $('conversation');
		if (!c || typeof c !== 'object') {
			box.replaceChildren(el('p', 'empty', 'No conversation yet.'));
			return;
		}
		box.replaceChildren(facts([
			['State', statusBadge(c.state)],
			['Assignee', str(c.assignee) || el('span', 'muted', 'Unassigned')],
			['Waiting since', date(c.waiting_since)],
			['Agent last active', date(c.last_agent_activity)],
		]), actions(
			!(session.user && str(c.assignee) === session.user) && actButton('Assign to me', 'assign', []),
			c.state === 'resolved' ? actButton('Reopen', 'reopen', []) : actButton('Resolve', 'resolve', []),
		));
	}

	function render(s) {
		const focus = focusState();
		formPanels.clear();
		renderCustomer(s.customer);
		fillList('payment-methods', s.payment_methods, 'No payment methods.', paymentMethod);
		fillList('subscriptions', s.subscriptions, 'No subscriptions.', subscription);
		fillList('invoices', s.open_invoices, 'No open invoices.', invoice);
		fillList('payments', s.payments, 'No recent payments.', payment);
		fillList('refunds', s.refunds, 'No refunds.', refund);
		fillList('disputes', s.disputes, 'No disputes.', dispute);
		renderConversation(s.conversation);
		ui.summary.hidden = false;
		// Forms that were open and are gone (the payment was refunded
		// meanwhile) are forgotten.
		for (const key of openForms.keys()) if (!formPanels.has(key)) openForms.delete(key);
		applyDisabled();
		restoreFocus(focus);
	}

	// ---- action controls ----------------------------------------------------

	// Every control in an action bar has a data-fk naming it across
	// re-renders: a live update replaces the lists, and the agent's place
	// (focus, what they typed into an open form) must survive it.
	const fkOf = (...parts) => JSON.stringify(parts);

	function findFk(fk) {
		if (!fk) return null;
		for (const x of document.querySelectorAll('[data-fk]')) if (x.dataset.fk === fk) return x;
		return null;
	}

	function focusState() {
		const a = document.activeElement;
		if (!a || !a.dataset || !a.dataset.fk || !ui.summary.contains(a)) return null;
		const state = {fk: a.dataset.fk};
		if (a.tagName === 'INPUT') [state.start, state.end] = [a.selectionStart, a.selectionEnd];
		return state;
	}

	function restoreFocus(state) {
		const x = state && findFk(state.fk);
		if (!x) return;
		x.focus({preventScroll: true});
		if (x.tagName === 'INPUT' && state.start !== null && state.start !== undefined) {
			try { x.setSelectionRange(state.start, state.end); } catch { /* not a text input */ }
		}
	}

	const words = (v) => str(v).trim().split(/\s+/).filter(Boolean);

	// actButton is a button that sends command with args. Its class is
	// act-<command>, its data-id the object it acts on.
	function actButton(label, command, args, opts) {
		opts = opts || {};
		const b = el('button', 'act act-' + command + (opts.danger ? ' danger' : ''), label);
		b.type = 'button';
		if (opts.id) b.dataset.id = opts.id;
		b.dataset.fk = fkOf('act', command, ...args);
		b.disabled = actionsLocked();
		b.addEventListener('click', () => startAction(command, args, b.dataset.fk));
		return b;
	}

	// actions is a row of action buttons and, under it, the open forms of
	// those that have one.
	function actions(...controls) {
		const present = controls.filter(Boolean);
		if (!present.length) return null;
		const row = el('div', 'acts');
		const forms = [];
		for (const c of present) {
			if (c instanceof Element) row.append(c);
			else {
				row.append(c.opener);
				forms.push(c.panel);
			}
		}
		return el('div', 'actions', row, ...forms);
	}

	// openForms: the forms open now, by key, with what is typed in them;
	// formPanels: the form elements of the latest render, by key.
	const openForms = new Map();
	const formPanels = new Map();
	let formSeq = 0;

	// inlineForm is an opener button ("Refund…") and the small form it
	// shows: fields, then a button that prepares opts.command with
	// opts.args(values), which is an args list or {error, field}.
	function inlineForm(opts) {
		const key = opts.key;
		const fk = (...parts) => fkOf('form', key, ...parts);
		const opener = el('button', 'act act-' + opts.command, opts.label);
		opener.type = 'button';
		if (opts.id) opener.dataset.id = opts.id;
		opener.dataset.fk = fk('open');
		opener.disabled = actionsLocked();

		const panel = el('div', 'inline-form');
		panel.id = 'form-' + (++formSeq);
		opener.setAttribute('aria-controls', panel.id);
		const state = openForms.get(key);
		const values = state ? state.values : {};
		const inputs = {};
		for (const f of opts.fields) {
			let input;
			if (f.options) {
				input = el('select', '');
				for (const [value, text] of f.options) {
					const o = el('option', '', text);
					o.value = value;
					input.append(o);
				}
			} else {
				input = el('input', '');
				input.type = 'text';
				input.autocomplete = 'off';
				input.spellcheck = false;
				if (f.placeholder) input.placeholder = f.placeholder;
				if (f.inputMode) input.inputMode = f.inputMode;
			}
			input.name = f.name;
			input.dataset.fk = fk('field', f.name);
			if (typeof values[f.name] === 'string') input.value = values[f.name];
			input.addEventListener(f.options ? 'change' : 'input', () => {
				const s = openForms.get(key);
				if (s) s.values[f.name] = input.value;
			});
			if (!f.options) input.addEventListener('keydown', (ev) => {
				if (ev.key === 'Enter') {
					ev.preventDefault();
					submit.click();
				}
			});
			inputs[f.name] = input;
			panel.append(el('label', 'field', el('span', 'field-label', f.label), input));
		}
		const submit = el('button', 'act act-submit' + (opts.danger ? ' danger' : ''), opts.submit);
		submit.type = 'button';
		submit.dataset.command = opts.command;
		if (opts.id) submit.dataset.id = opts.id;
		submit.dataset.fk = fk('submit');
		submit.disabled = actionsLocked();
		panel.append(el('div', 'form-buttons', submit));

		const read = () => Object.fromEntries(Object.entries(inputs).map(([name, input]) => [name, input.value]));
		const show = (open) => {
			panel.hidden = !open;
			opener.setAttribute('aria-expanded', String(open));
			opener.classList.toggle('open', open);
		};
		show(!!state);
		opener.addEventListener('click', () => {
			if (openForms.has(key)) {
				openForms.delete(key);
				show(false);
			} else {
				openForms.set(key, {values: read()});
				show(true);
				inputs[opts.fields[0].name].focus();
			}
		});
		panel.addEventListener('keydown', (ev) => {
			if (ev.key !== 'Escape') return;
			openForms.delete(key);
			show(false);
			opener.focus();
		});
		submit.addEventListener('click', () => {
			const args = opts.args(read());
			if (!Array.isArray(args)) {
				showResult(args.error, 'error');
				if (args.field && inputs[args.field]) inputs[args.field].focus();
				return;
			}
			startAction(opts.command, args, submit.dataset.fk, key);
		});
		formPanels.set(key, {panel, show});
		return {opener, panel};
	}

	function closeForms(key) {
		for (const k of key ? [key] : [...openForms.keys()]) {
			openForms.delete(k);
			const f = formPanels.get(k);
			if (f) f.show(false);
		}
	}

	// ---- actions ------------------------------------------------------------

	// act: busy while a request is in flight; pending is the prepared
	// action waiting for Confirm or Cancel (one at a time); retry is the
	// request to send again, unchanged, after the bridge was unreachable.
	const act = {busy: false, pending: null, retry: null, timer: 0, returnFocus: null, form: null};

	const actionsLocked = () => act.busy || !!act.pending;

	function applyDisabled() {
		const locked = actionsLocked();
		for (const b of ui.summary.querySelectorAll('button.act')) b.disabled = locked;
		ui.confirmGo.disabled = act.busy || !act.pending || act.pending.expired;
		ui.confirmCancel.disabled = act.busy;
		ui.retry.disabled = act.busy;
	}

	function setBusy(busy) {
		act.busy = busy;
		ui.confirm.setAttribute('aria-busy', String(busy));
		applyDisabled();
	}

	// requestID is a fresh id for one click: the bridge does a request_id
	// once, however often it arrives.
	function requestID() {
		return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
	}

	// showResult puts text in the result line: kind is working, done or
	// error; withRetry offers Try again.
	function showResult(text, kind, withRetry) {
		ui.result.textContent = text;
		ui.resultRow.classList.add('shown');
		ui.resultRow.classList.toggle('error', kind === 'error');
		ui.resultRow.classList.toggle('done', kind === 'done');
		ui.retry.hidden = !withRetry;
		ui.dismiss.hidden = kind === 'working';
	}

	function clearResult() {
		act.retry = null;
		ui.result.textContent = '';
		ui.resultRow.classList.remove('shown', 'error', 'done');
		ui.retry.hidden = true;
		ui.dismiss.hidden = true;
	}

	const lines = (messages, fallback) => {
		const list = Array.isArray(messages) ? messages.filter((m) => typeof m === 'string' && m) : [];
		return list.length ? list.join('\n') : fallback;
	};

	function startAction(command, args, fk, formKey) {
		if (actionsLocked() || ended) return;
		act.returnFocus = fk;
		act.form = formKey || null;
		send({path: roomPath + '/actions', body: {request_id: requestID(), command, args: args.map(String)}, kind: 'start'});
	}

	// answerPending confirms or cancels the prepared action.
	function answerPending(kind) {
		if (!act.pending || act.busy || ended) return;
		send({path: roomPath + '/actions/' + encodeURIComponent(act.pending.id) + '/' + kind, body: {request_id: requestID()}, kind});
	}

	const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
	const unreachable = (res) => !res || res.status === 502 || res.status === 503 || res.status === 504;

	// send posts one click's request, again with the same body (and so the
	// same request_id) while the bridge cannot be reached.
	async function send(req) {
		act.retry = null;
		setBusy(true);
		showResult(TEXT.working, 'working');
		let res = null;
		for (let attempt = 0; ; attempt++) {
			try {
				res = await api('POST', req.path, req.body, {'X-CSRF-Token': session.csrf || ''});
			} catch {
				res = null;
			}
			if (!unreachable(res) || attempt >= RETRY_DELAYS_MS.length || ended) break;
			await sleep(RETRY_DELAYS_MS[attempt]);
		}
		setBusy(false);
		if (ended) return;
		if (!res || res.status >= 500) {
			act.retry = req;
			const fallback = unreachable(res) ? TEXT.actionOffline : TEXT.actionFailed;
			showResult(res ? messageOf(res.data, fallback) : fallback, 'error', true);
			return;
		}
		takeAnswer(req, res);
	}

	function takeAnswer(req, res) {
		const d = res.data;
		if (res.status === 401) {
			signedOut(TEXT.signedOut);
			return;
		}
		if (res.status === 403 && d.error === 'for_support_staff') {
			signedOut(TEXT.notStaff);
			return;
		}
		if (res.status !== 200) {
			// A prepared action the bridge will not take is gone.
			if (req.kind !== 'start') closeConfirm();
			showResult(messageOf(d, TEXT.actionFailed), 'error');
			return;
		}
		switch (d.status) {
		case 'confirm':
			if (typeof d.action_id === 'string' && d.action_id) {
				clearResult();
				showConfirm(d, res.date);
			} else {
				showResult(TEXT.actionFailed, 'error');
			}
			break;
		case 'done':
			closeConfirm();
			showResult(lines(d.messages, TEXT.done), 'done');
			// Cancelling changed nothing: the form stays for another try.
			if (req.kind !== 'cancel') {
				if (act.form) closeForms(act.form);
				reload();
			}
			break;
		case 'refused':
			if (req.kind !== 'start') closeConfirm();
			showResult(lines(d.messages, TEXT.refused), 'error');
			break;
		default:
			showResult(TEXT.actionFailed, 'error');
		}
	}

	// showConfirm shows a prepared action: the bridge's sentence of what
	// will happen, and the time left. The deadline is counted from the
	// server's clock (its Date), so a wrong clock here does not cut it short.
	function showConfirm(d, serverNow) {
		const expires = Date.parse(str(d.expires_at));
		const now = Number.isNaN(serverNow) ? Date.now() : serverNow + 1000; // Date is whole seconds
		act.pending = {
			id: d.action_id, expired: false,
			deadline: Number.isNaN(expires) ? null : performance.now() + (expires - now),
		};
		ui.confirmSummary.textContent = str(d.summary) || 'Confirm this action?';
		const notes = Array.isArray(d.messages) ? d.messages.filter((m) => typeof m === 'string' && m) : [];
		ui.confirmNotes.replaceChildren(...notes.map((m) => el('li', '', m)));
		ui.confirmNotes.hidden = !notes.length;
		ui.confirm.hidden = false;
		clearInterval(act.timer);
		act.timer = setInterval(tick, 1000);
		tick();
		applyDisabled();
		ui.confirm.focus({preventScroll: true});
	}

	function tick() {
		const p = act.pending;
		if (!p) return;
		if (p.deadline === null) {
			ui.confirmExpires.textContent = '';
			return;
		}
		const left = Math.max(0, Math.ceil((p.deadline - performance.now()) / 1000));
		ui.confirmExpires.textContent = 'Expires in ' + Math.floor(left / 60) + ':' + pad2(left % 60);
		// An answer on its way decides; otherwise the bridge has dropped it.
		if (left === 0 && !act.busy) {
			closeConfirm();
			showResult(TEXT.expired, 'error');
		}
	}

	function closeConfirm() {
		const hadFocus = ui.confirm.contains(document.activeElement);
		act.pending = null;
		clearInterval(act.timer);
		ui.confirm.hidden = true;
		ui.confirmSummary.textContent = '';
		ui.confirmNotes.replaceChildren();
		ui.confirmExpires.textContent = '';
		applyDisabled();
		if (hadFocus) {
			const back = findFk(act.returnFocus);
			if (back) back.focus({preventScroll: true});
		}
	}

	// ---- live updates -------------------------------------------------------

	// The bridge's rooms/<room>/events is a text/event-stream; EventSource
	// cannot send the Authorization header, so it is read by fetch.
	const live = {running: false, ctl: null, timer: 0, delay: LIVE_FIRST_DELAY_MS, connectedOnce: false};

	function setLive(on) {
		ui.live.textContent = on ? TEXT.live : TEXT.reconnecting;
		ui.live.classList.toggle('on', on);
	}

	function startLive() {
		if (live.running || ended || !room) return;
		live.running = true;
		live.delay = LIVE_FIRST_DELAY_MS;
		setLive(false);
		ui.live.hidden = false;
		connectLive();
	}

	function stopLive() {
		live.running = false;
		clearTimeout(live.timer);
		if (live.ctl) live.ctl.abort();
		live.ctl = null;
		live.connectedOnce = false;
		ui.live.hidden = true;
	}

	// eventParser takes the stream's text in any pieces and calls onEvent
	// (name, data) for each event a blank line ends.
	function eventParser(onEvent) {
		let buf = '';
		let name = '';
		let data = [];
		const line = (l) => {
			if (l === '') {
				if (name || data.length) onEvent(name || 'message', data.join('\n'));
				name = '';
				data = [];
				return;
			}
			if (l[0] === ':') return; // a comment: the keep-alive
			const i = l.indexOf(':');
			const field = i < 0 ? l : l.slice(0, i);
			let value = i < 0 ? '' : l.slice(i + 1);
			if (value[0] === ' ') value = value.slice(1);
			if (field === 'event') name = value;
			else if (field === 'data') data.push(value);
		};
		return (text) => {
			buf += text;
			for (;;) {
				const m = /\r\n|\r|\n/.exec(buf);
				// A CR last may be the first half of a CRLF.
				if (!m || (m[0] === '\r' && m.index === buf.length - 1)) break;
				line(buf.slice(0, m.index));
				buf = buf.slice(m.index + m[0].length);
			}
		};
	}

	async function connectLive() {
		const ctl = new AbortController();
		live.ctl = ctl;
		let openedAt = 0;
		let events = 0;
		try {
			const headers = {Accept: 'text/event-stream'};
			if (session.token) headers.Authorization = 'Bearer ' + session.token;
			const res = await fetch(roomPath + '/events', {headers, credentials: 'same-origin', cache: 'no-store', signal: ctl.signal});
			if (res.status === 401) {
				if (live.ctl === ctl) signedOut(TEXT.signedOut);
				return;
			}
			if (res.status === 200 && res.body) {
				openedAt = performance.now();
				setLive(true);
				// What changed while the stream was down was not told.
				if (live.connectedOnce) reload();
				live.connectedOnce = true;
				const parse = eventParser((name) => {
					events++;
					if (name === 'changed') reload();
				});
				const reader = res.body.getReader();
				const decoder = new TextDecoder();
				for (;;) {
					const {value, done} = await reader.read();
					if (done) break;
					parse(decoder.decode(value, {stream: true}));
				}
			} else if (res.body) {
				res.body.cancel().catch(() => {});
			}
		} catch { /* offline, or stopped: below */ }
		if (live.ctl !== ctl || !live.running) return;
		live.ctl = null;
		setLive(false);
		if (openedAt && (events > 0 || performance.now() - openedAt >= LIVE_HEALTHY_MS)) live.delay = LIVE_FIRST_DELAY_MS;
		const wait = live.delay;
		live.delay = Math.min(live.delay * 2, LIVE_MAX_DELAY_MS);
		live.timer = setTimeout(connectLive, wait);
	}

	// ---- the Matrix Widget API ----------------------------------------------

	// connectWidget answers Element's requests and returns a function that
	// asks Element for the user's OpenID credentials; null when there is
	// no parent origin to talk to.
	function connectWidget() {
		let parentOrigin = null;
		try { parentOrigin = new URL(params.get('parentUrl')).origin; } catch { /* missing or not a URL */ }
		if (!parentOrigin || parentOrigin === 'null') return null;

		const pending = new Map(); // requestId → resolve, for our fromWidget requests
		let seq = 0;
		let awaitingCredentials = false;

		// Never '*': what the panel says goes to Element's origin only.
		const post = (msg) => window.parent.postMessage(msg, parentOrigin);
		const send = (action, data) => {
			const requestId = 'panel-' + Date.now().toString(36) + '-' + (++seq);
			post({api: 'fromWidget', widgetId, requestId, action, data});
			return requestId;
		};
		const request = (action, data) => new Promise((resolve) => pending.set(send(action, data), resolve));

		function useCredentials(c) {
			c = c && typeof c === 'object' ? c : {};
			if (c.state === 'request') {
				setStatus(TEXT.asking);
				return;
			}
			awaitingCredentials = false;
			if (c.state === 'allowed' && typeof c.access_token === 'string' && c.access_token) startSession(c);
			else if (c.error && typeof c.error.message === 'string') fail('Element could not share your identity: ' + c.error.message);
			else fail(TEXT.blocked);
		}

		function answer(msg) {
			switch (msg.action) {
			case 'capabilities':
				return {capabilities: []};
			case 'supported_api_versions':
				return {supported_versions: ['0.0.1', '0.0.2']};
			case 'openid_credentials':
				if (awaitingCredentials) useCredentials(msg.data);
				return {};
			default:
				return {};
			}
		}

		window.addEventListener('message', (ev) => {
			// Only Element's window may speak to the panel: any other frame
			// could hand it credentials of its choosing.
			if (ev.source !== window.parent || ev.origin !== parentOrigin) return;
			const msg = ev.data;
			if (!msg || typeof msg !== 'object' || typeof msg.requestId !== 'string') return;
			if (msg.api === 'toWidget' && !('response' in msg)) {
				post({...msg, response: answer(msg)});
			} else if (msg.api === 'fromWidget' && 'response' in msg && pending.has(msg.requestId)) {
				const resolve = pending.get(msg.requestId);
				pending.delete(msg.requestId);
				resolve(msg.response);
			}
		});

		send('content_loaded', {});

		return async () => {
			setStatus(TEXT.waiting);
			awaitingCredentials = true;
			let answered = false;
			setTimeout(() => { if (!answered) fail(TEXT.noAnswer); }, OPENID_TIMEOUT_MS);
			const res = await request('get_openid', {});
			answered = true;
			useCredentials(res);
		};
	}

	// ---- start --------------------------------------------------------------

	// useLink trades a one-time sign-in link (its token is in the fragment,
	// which no server sees) for the tab's session, then forgets it.
	function useLink(token) {
		history.replaceState(null, '', location.pathname + location.search);
		signIn(() => api('POST', 'link', {token}), null);
	}

	ui.refresh.addEventListener('click', reload);
	ui.confirmGo.addEventListener('click', () => answerPending('confirm'));
	ui.confirmCancel.addEventListener('click', () => answerPending('cancel'));
	ui.confirm.addEventListener('keydown', (ev) => {
		if (ev.key === 'Escape') {
			ev.preventDefault();
			answerPending('cancel');
		}
	});
	ui.retry.addEventListener('click', () => { if (act.retry && !act.busy && !ended) send(act.retry); });
	ui.dismiss.addEventListener('click', clearResult);
	const linkToken = new URLSearchParams(location.hash.slice(1)).get('link');
	if (widgetId === null) {
		if (room && linkToken) useLink(linkToken);
		else if (room) startSession(null);
		else fail(TEXT.noRoom);
	} else {
		// Element waits for the capabilities answer even when there is no
		// room to show, so the API is up before anything else.
		const askOpenID = connectWidget();
		if (!askOpenID) fail(TEXT.noParent);
		else if (!room) fail(TEXT.noRoom);
		else askOpenID();
	}
})();
