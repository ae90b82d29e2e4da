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
	};
	const SECTIONS = ['customer', 'payment-methods', 'subscriptions', 'invoices', 'payments', 'refunds', 'disputes', 'conversation'];
	// Long enough for a slow client, short enough that a page that is not
	// Element (or an old one) does not leave the agent staring at "Waiting".
	const OPENID_TIMEOUT_MS = 20000;

	const params = new URLSearchParams(location.search);
	const room = params.get('room');
	const widgetId = params.get('widgetId');
	const dates = new Intl.DateTimeFormat(undefined, {dateStyle: 'medium'});
	const clock = new Intl.DateTimeFormat(undefined, {timeStyle: 'short'});

	const $ = (id) => document.getElementById(id);
	const ui = {status: $('status'), refresh: $('refresh'), summary: $('summary')};

	// Kept in memory only. The token is the server's answer to Element's
	// frame, where a SameSite cookie is not sent; without one the cookie
	// carries the session. The CSRF token is for state-changing actions.
	const session = {token: null, csrf: null};

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
	}

	const messageOf = (data, fallback) => (typeof data.message === 'string' && data.message) || fallback;

	// ---- the panel's API ----------------------------------------------------

	async function api(method, path, body) {
		const headers = {Accept: 'application/json'};
		if (session.token) headers.Authorization = 'Bearer ' + session.token;
		const init = {method, headers, credentials: 'same-origin', cache: 'no-store'};
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
		const res = await fetch(path, init);
		let data = null;
		try { data = await res.json(); } catch { /* not JSON: a proxy's error page */ }
		return {status: res.status, data: data && typeof data === 'object' ? data : {}};
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
	// session, or the sentence for why not. signedOut is what a 401 says,
	// when it means an ended session rather than a refused sign-in.
	async function signIn(request, signedOut) {
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
			session.csrf = res.data.csrf_token || null;
			loadSummary();
		} else if (res.status === 403 && res.data.error === 'for_support_staff') {
			fail(TEXT.notStaff);
		} else if (res.status === 401 && signedOut) {
			fail(signedOut);
		} else {
			fail(messageOf(res.data, TEXT.signInFailed));
		}
	}

	async function loadSummary() {
		ui.refresh.disabled = true;
		setStatus(TEXT.loading);
		let res = null;
		try {
			res = await api('GET', 'rooms/' + encodeURIComponent(room) + '/summary');
		} catch { /* offline: below */ }
		ui.refresh.disabled = false;
		if (res && res.status === 200) {
			render(res.data);
			ui.refresh.hidden = false;
			setStatus('Updated ' + clock.format(new Date()) + '.');
		} else if (res && [401, 403, 404].includes(res.status)) {
			fail(messageOf(res.data, TEXT.summaryFailed));
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
		);
	}

	function invoice(inv) {
		return item([el('span', 'title', str(inv.number) || str(inv.id) || 'Invoice')], str(inv.amount_display),
			dated('Due', inv.due_date),
			links(link(inv.hosted_invoice_url, 'Pay link'), stripeLink(inv.dashboard_url)));
	}

	function payment(p) {
		const failed = p.status === 'failed';
		const li = item([el('span', 'title', str(p.amount_display)), statusBadge(p.status), p.refunded === true && badge('Refunded')],
			date(p.created),
			failed && str(p.failure_message) && el('p', 'sub failure', p.failure_message),
			links(stripeLink(p.dashboard_url)));
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
		]));
	}

	function render(s) {
		renderCustomer(s.customer);
		fillList('payment-methods', s.payment_methods, 'No payment methods.', paymentMethod);
		fillList('subscriptions', s.subscriptions, 'No subscriptions.', subscription);
		fillList('invoices', s.open_invoices, 'No open invoices.', invoice);
		fillList('payments', s.payments, 'No recent payments.', payment);
		fillList('refunds', s.refunds, 'No refunds.', refund);
		fillList('disputes', s.disputes, 'No disputes.', dispute);
		renderConversation(s.conversation);
		ui.summary.hidden = false;
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

	ui.refresh.addEventListener('click', loadSummary);
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
