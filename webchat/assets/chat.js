/* matrix-stripe web chat: the chat inside the iframe (frame.html). It gets
   the merchant's token from embed.js by postMessage, trades it for a session
   (POST ./api/session), shows the history, follows ./api/stream (Server-Sent
   Events read with fetch, so that it can send the session header) and sends
   what the customer types. No inline script or style: the frame's CSP
   forbids them. */
(function () {
	'use strict';
	var w = window, d = document, I = w.MatrixStripeChatI18n;
	var NS = 'matrix-stripe-chat', PAGE = 30;
	var embedded = w.parent !== w;
	var account = new URLSearchParams(location.search).get('account') || '';

	var $ = function (id) { return d.getElementById(id); };
	var ui = {
		title: $('title'), close: $('close'), alert: $('alert'), status: $('status'), scroll: $('scroll'),
		earlier: $('earlier'), log: $('log'), form: $('composer'), input: $('input'), send: $('send')
	};

	var lang = I.pick(navigator.languages || [navigator.language]);
	var explicitLang = false;
	var parentOrigin = null, token = null, badToken = null, renewable = false;
	var session = null, renewTimer = 0, endTimer = 0, retryTimer = 0, sessionTry = 0, refused = 0;
	var title = '', greeting = '', greetingEl = null, loaded = false;
	var msgs = {}, order = []; // id -> {m, el}; ids oldest first
	var next = null, readUpTo = null, lastRead = null, unreadSent = -1, loadingEarlier = false;
	var lastEventId = null, streamGen = 0, streamCtl = null, backoff = 0, retryMs = 1000, reconnectTimer = 0, watchdog = 0;
	var pending = {}, txnOf = {}; // txn -> pending send; message id -> txn
	var open = !embedded, atBottom = true;

	function t(key) { return I.t(lang, key); }

	function el(tag, cls, text) {
		var e = d.createElement(tag);
		if (cls) e.className = cls;
		if (text != null) e.textContent = text;
		return e;
	}

	function applyStrings() {
		d.documentElement.lang = lang;
		Array.prototype.forEach.call(d.querySelectorAll('[data-i18n]'), function (e) { e.textContent = t(e.getAttribute('data-i18n')); });
		Array.prototype.forEach.call(d.querySelectorAll('[data-i18n-label]'), function (e) { e.setAttribute('aria-label', t(e.getAttribute('data-i18n-label'))); });
		Array.prototype.forEach.call(d.querySelectorAll('[data-i18n-placeholder]'), function (e) { e.placeholder = t(e.getAttribute('data-i18n-placeholder')); });
		if (title) ui.title.textContent = title;
		d.title = ui.title.textContent;
	}

	function setLang(tag, explicit) {
		if (!tag || (explicitLang && !explicit)) return;
		var l = I.pick([tag]);
		if (l === 'en' && !/^en\b/i.test(tag)) return; // unsupported: keep the browser's choice
		explicitLang = explicitLang || explicit;
		if (l !== lang) { lang = l; applyStrings(); rerender(); }
	}

	// ---- talking to embed.js -------------------------------------------------

	function toParent(msg) {
		if (!embedded) return;
		msg.ns = NS;
		// Before the parent has sent the token its origin is unknown; only
		// "ready" and "close" (which carry nothing) may go out then.
		var target = parentOrigin || (msg.type === 'ready' || msg.type === 'close' ? '*' : null);
		try {
			if (target) w.parent.postMessage(msg, target);
		} catch (x) { /* an opaque parent origin */ }
	}

	w.addEventListener('message', function (e) {
		if (!embedded || e.source !== w.parent) return;
		var m = e.data;
		if (!m || typeof m !== 'object' || m.ns !== NS) return;
		if (parentOrigin === null) {
			if (m.type !== 'token') return;
			parentOrigin = e.origin;
		} else if (e.origin !== parentOrigin) {
			return;
		}
		switch (m.type) {
		case 'token':
			renewable = !!m.renewable;
			if (m.locale) setLang(String(m.locale), true);
			if (typeof m.token === 'string' && m.token && m.token !== token && m.token !== badToken) {
				token = m.token;
				sessionTry = 0;
				startSession();
			}
			break;
		case 'visibility':
			open = !!m.open;
			if (open) {
				if (atBottom) toBottom();
				markRead();
			}
			break;
		case 'focus':
			if (!ui.input.disabled) ui.input.focus();
			else ui.close.focus();
			break;
		}
	});

	// ---- the API -------------------------------------------------------------

	function api(method, path, body, noAuth) {
		var h = { Accept: 'application/json' };
		if (body) h['Content-Type'] = 'application/json';
		if (session && !noAuth) h.Authorization = 'Bearer ' + session;
		return fetch('./api/' + path, {
			method: method, headers: h, body: body ? JSON.stringify(body) : undefined,
			credentials: 'omit', cache: 'no-store'
		}).then(function (res) {
			return res.text().then(function (txt) {
				var j = null;
				try { j = txt ? JSON.parse(txt) : null; } catch (x) { /* not JSON */ }
				if (!res.ok) throw apiError(res.status, j);
				return j || {};
			});
		}, function () { throw apiError(0, null); });
	}

	function apiError(status, j) {
		var e = new Error((j && j.message) || '');
		e.status = status;
		e.code = (j && j.error) || '';
		return e;
	}

	// failed shows what went wrong; a 401 means the session is over.
	function failed(err) {
		if (err.status === 401) sessionEnded(err.message);
		else showAlert(err.message || t('error'));
	}

	function showAlert(text) { ui.alert.textContent = text; }
	function clearAlert() { ui.alert.textContent = ''; }
	function setStatus(text) { ui.status.textContent = text || ''; }

	// ---- the session ---------------------------------------------------------

	function startSession() {
		clearTimeout(retryTimer);
		var tok = token;
		if (!session) setStatus(t('connecting'));
		api('POST', 'session', { account: account, token: tok }, true).then(function (r) {
			if (tok !== token) return;
			session = r.session;
			sessionTry = 0;
			refused = 0;
			clearAlert();
			setStatus('');
			if (r.locale) setLang(String(r.locale), false);
			title = r.title || '';
			greeting = r.greeting || '';
			ui.title.textContent = title || t('title');
			d.title = ui.title.textContent;
			if (r.accent_color && w.CSS && CSS.supports('color', r.accent_color)) {
				d.documentElement.style.setProperty('--accent', r.accent_color);
				d.documentElement.style.setProperty('--accent-fg', contrast(r.accent_color));
				toParent({ type: 'theme', accent: r.accent_color });
			}
			schedule(toMillis(r.expires_at));
			enableComposer(true);
			begin();
		}, function (err) {
			if (tok !== token) return;
			if (err.status === 401) {
				badToken = tok;
				if (!session) {
					setStatus('');
					showAlert(err.message || t('ended'));
				}
				// A renewal that failed leaves a live session alone. A page
				// whose fresh tokens keep failing is not asked forever.
				if (++refused <= 3) toParent({ type: 'token_expired', code: err.code });
				return;
			}
			if (session) return;
			setStatus('');
			showAlert(err.message || t('error'));
			if (err.status === 0 || err.status === 429 || err.status >= 500) {
				retryTimer = setTimeout(startSession, delay(sessionTry++));
			}
		});
	}

	// schedule asks the page for a fresh token a minute before the session
	// expires (when it can give one) and ends the session when it expires.
	function schedule(at) {
		clearTimeout(renewTimer);
		clearTimeout(endTimer);
		if (!at) return;
		var left = at - Date.now();
		if (left > 2147483647) return; // beyond what setTimeout can wait
		if (renewable) renewTimer = setTimeout(function () { toParent({ type: 'token_expired', code: 'renew' }); }, Math.max(0, left - 60000));
		endTimer = setTimeout(function () { sessionEnded(''); }, Math.max(0, left));
	}

	function sessionEnded(message) {
		if (!session) return;
		session = null;
		badToken = token;
		stopStream();
		clearTimeout(renewTimer);
		clearTimeout(endTimer);
		enableComposer(false);
		setStatus('');
		showAlert(message || t('ended') + (renewable ? '' : ' ' + t('reload')));
		toParent({ type: 'token_expired', code: 'session_ended' });
	}

	// begin loads the history (the first time) and follows the stream.
	function begin() {
		var s = session;
		(loaded ? Promise.resolve() : loadHistory()).then(connect, function (err) {
			if (s !== session) return;
			if (err.status === 401) return sessionEnded(err.message);
			showAlert(err.message || t('error'));
			retryTimer = setTimeout(begin, delay(sessionTry++));
		});
	}

	// contrast is the text colour that reads best on a #rgb/#rrggbb colour.
	function contrast(c) {
		var m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(c);
		if (!m) return '#fff';
		var h = m[1].length === 3 ? m[1].replace(/./g, '$&$&') : m[1], l = [0.2126, 0.7152, 0.0722].reduce(function (sum, k, i) {
			var v = parseInt(h.substr(i * 2, 2), 16) / 255;
			return sum + k * (v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4));
		}, 0);
		return l > 0.179 ? '#111' : '#fff';
	}

	function enableComposer(on) {
		ui.input.disabled = !on;
		ui.send.disabled = !on;
	}

	// ---- history -------------------------------------------------------------

	function loadHistory() {
		return page(null, 0).then(function () {
			loaded = true;
			clearAlert();
			lastRead = readUpTo;
			showGreeting();
			toBottom();
			unread();
			markRead();
		});
	}

	// page loads one page of history before the cursor; pages with nothing
	// to show (state events) are skipped, a few at a time.
	function page(before, skipped) {
		var q = 'history?limit=' + PAGE + (before != null ? '&before=' + encodeURIComponent(before) : '');
		// A page of history is not news: the live region stays quiet.
		ui.log.setAttribute('aria-busy', 'true');
		var done = function () { ui.log.setAttribute('aria-busy', 'false'); };
		return api('GET', q).then(function (r) {
			done();
			if (before == null) readUpTo = r.read_up_to || null;
			next = r.next != null ? r.next : null;
			var list = r.messages || [];
			list.forEach(function (m) { upsert(m); });
			ui.earlier.hidden = next == null;
			if (!list.length && next != null && skipped < 4) return page(next, skipped + 1);
		}, function (err) {
			done();
			throw err;
		});
	}

	function loadEarlier() {
		if (next == null || loadingEarlier || !session) return;
		loadingEarlier = true;
		ui.earlier.disabled = true;
		var s = ui.scroll, h = s.scrollHeight, top = s.scrollTop;
		page(next, 0).then(function () {
			s.scrollTop = s.scrollHeight - h + top;
		}, failed).then(function () {
			loadingEarlier = false;
			ui.earlier.disabled = false;
		});
	}

	function reset() {
		order.forEach(function (id) { msgs[id].el.remove(); });
		msgs = {};
		order = [];
		if (greetingEl) greetingEl.remove();
		greetingEl = null;
		loaded = false;
		lastEventId = null;
		return loadHistory();
	}

	function showGreeting() {
		if (!greeting || greetingEl) return;
		for (var i = 0; i < order.length; i++) {
			var k = kindOf(msgs[order[i]].m);
			if (k === 'customer' || k === 'agent') return;
		}
		greetingEl = renderMessage({ id: '', ts: 0, sender: { name: title || t('title'), kind: 'greeting' }, text: greeting });
		greetingEl.className += ' greeting';
		ui.log.insertBefore(greetingEl, firstPending());
	}

	// ---- messages ------------------------------------------------------------

	function kindOf(m) { return String((m.sender && m.sender.kind) || 'bot').replace(/[^a-z]/g, ''); }

	function toMillis(v) {
		if (typeof v === 'number') return v < 1e11 ? v * 1000 : v;
		var n = Date.parse(v);
		return isNaN(n) ? 0 : n;
	}

	function tsOf(m) { return toMillis(m.ts) || Date.now(); }

	function firstPending() { return ui.log.querySelector('.pending'); }

	// upsert adds a message in time order, or replaces it in place (an edit).
	function upsert(m) {
		if (!m || typeof m.id !== 'string' || !m.id) return;
		var had = msgs[m.id];
		if (had) {
			var was = had.m.sender || {}, now = m.sender || {};
			// Only its author edits a message; it keeps its place and time.
			if (was.id && now.id && was.id !== now.id) return;
			if (had.m.ts) m = Object.assign({}, m, { ts: had.m.ts });
		}
		var e = renderMessage(m);
		if (had) {
			had.el.replaceWith(e);
			had.el = e;
			had.m = m;
			return;
		}
		var txn = txnOf[m.id];
		if (txn && pending[txn]) dropPending(txn);
		var ts = tsOf(m), i = order.length;
		while (i > 0 && tsOf(msgs[order[i - 1]].m) > ts) i--;
		order.splice(i, 0, m.id);
		msgs[m.id] = { m: m, el: e };
		// Before the next newer message (the greeting stays where it was
		// put), or after all of them but before the sends still pending.
		ui.log.insertBefore(e, i + 1 < order.length ? msgs[order[i + 1]].el : firstPending());
	}

	function remove(id) {
		var had = msgs[id];
		if (!had) return;
		var i = order.indexOf(id);
		if (readUpTo === id) readUpTo = i > 0 ? order[i - 1] : null;
		order.splice(i, 1);
		delete msgs[id];
		had.el.remove();
		unread();
	}

	function rerender() {
		order.forEach(function (id) { upsert(msgs[id].m); });
	}

	function fmtTime(ms) {
		var dt = new Date(ms), now = new Date();
		var sameDay = dt.toDateString() === now.toDateString();
		try {
			return new Intl.DateTimeFormat(lang, sameDay ? { hour: 'numeric', minute: '2-digit' } :
				{ month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' }).format(dt);
		} catch (x) {
			return dt.toLocaleString();
		}
	}

	function renderMessage(m) {
		var s = m.sender || {}, kind = kindOf(m), mine = kind === 'customer';
		var row = el('div', 'msg k-' + kind + (mine ? ' mine' : ''));
		if (m.id) row.setAttribute('data-id', m.id);
		if (!mine) row.appendChild(avatar(s));
		var bubble = el('div', 'bubble');
		var meta = el('div', 'meta');
		meta.appendChild(el('span', 'name', mine ? t('you') : (s.name || title || t('title'))));
		if (m.ts) {
			var ms = tsOf(m), time = el('time', '', fmtTime(ms));
			time.dateTime = new Date(ms).toISOString();
			meta.appendChild(time);
		}
		if (m.edited) meta.appendChild(el('span', 'edited', t('edited')));
		bubble.appendChild(meta);
		var body = el('div', 'body');
		if (typeof m.html === 'string' && m.html) {
			body.className += ' html';
			setHTML(body, m.html);
		} else {
			setText(body, m.text == null ? '' : String(m.text));
		}
		bubble.appendChild(body);
		var acts = actions(m.actions);
		if (acts) bubble.appendChild(acts);
		row.appendChild(bubble);
		return row;
	}

	function avatar(s) {
		var url = safeURL(s.avatar_url, true);
		var span = el('span', 'av c' + (hash(s.id || s.name || '') % 6), initials(s.name || ''));
		span.setAttribute('aria-hidden', 'true');
		if (!url) return span;
		var img = el('img', 'av');
		img.alt = s.name || '';
		img.src = url;
		img.addEventListener('error', function () { img.replaceWith(span); });
		return img;
	}

	function initials(name) {
		var parts = name.replace(/[^\p{L}\p{N}\s]/gu, '').trim().split(/\s+/);
		var a = Array.from(parts[0] || '?')[0] || '?';
		var b = parts.length > 1 ? Array.from(parts[parts.length - 1])[0] : '';
		return (a + (b || '')).toUpperCase();
	}

	function hash(s) {
		var h = 0;
		for (var i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) >>> 0;
		return h;
	}

	function safeURL(u, image) {
		if (typeof u !== 'string' || !u) return null;
		try {
			var x = new URL(u, location.href);
			return (image ? /^https?:$/ : /^(https?|mailto|tel):$/).test(x.protocol) ? x.href : null;
		} catch (e) {
			return null;
		}
	}

	function newTab(a) {
		a.target = '_blank';
		a.rel = 'noopener noreferrer';
	}

	// Nothing that runs, loads or takes input (the server allows none of it).
	var BAD = /^(script|style|link|meta|base|iframe|frame|frameset|object|embed|form|input|button|textarea|select|option|template|noscript|svg|math|img|picture|audio|video|source|track|canvas|dialog)$/;

	// setHTML inserts the server's sanitised HTML. It is parsed in an inert
	// template (nothing loads or runs there) and cleaned once more (no
	// scripts, images, handlers, styles or odd URLs) before it reaches the
	// page; links open in a new tab.
	function setHTML(body, html) {
		var tpl = d.createElement('template');
		tpl.innerHTML = html;
		Array.prototype.forEach.call(tpl.content.querySelectorAll('*'), function (e) {
			if (BAD.test(e.localName)) {
				e.remove();
				return;
			}
			Array.prototype.slice.call(e.attributes).forEach(function (a) {
				var n = a.name.toLowerCase();
				if (/^on/.test(n) || n === 'style' || n === 'srcset' || n === 'srcdoc' || n === 'formaction' ||
					((n === 'href' || n === 'xlink:href' || n === 'action') && !safeURL(a.value, false))) {
					e.removeAttribute(a.name);
				}
			});
			if (e.localName === 'a') newTab(e);
		});
		body.appendChild(tpl.content);
	}

	// setText shows plain text as text (line breaks kept by the CSS), its
	// web addresses as links.
	function setText(body, text) {
		var re = /\bhttps?:\/\/[^\s<>"']+/g, last = 0, mm;
		while ((mm = re.exec(text))) {
			var url = mm[0].replace(/[.,;:!?)\]}'"]+$/, '');
			body.appendChild(d.createTextNode(text.slice(last, mm.index)));
			var a = el('a', '', url);
			a.href = url;
			newTab(a);
			body.appendChild(a);
			last = mm.index + url.length;
			re.lastIndex = last;
		}
		body.appendChild(d.createTextNode(text.slice(last)));
	}

	function actions(list) {
		if (!Array.isArray(list) || !list.length) return null;
		var box = el('div', 'acts');
		list.forEach(function (a) {
			if (!a || !a.label) return;
			var label = String(a.label);
			if (a.url) {
				var url = safeURL(String(a.url));
				if (!url) return;
				var link = el('a', 'act', label);
				link.href = url;
				link.title = t('newtab');
				newTab(link);
				box.appendChild(link);
			} else if (typeof a.send === 'string' && a.send) {
				var b = el('button', 'act', label);
				b.type = 'button';
				b.addEventListener('click', function () {
					if (!session) return;
					b.disabled = true;
					send(a.send);
				});
				box.appendChild(b);
			}
		});
		return box.firstChild ? box : null;
	}

	// ---- sending -------------------------------------------------------------

	function txnID() {
		var b = new Uint8Array(16);
		crypto.getRandomValues(b);
		return 'w' + Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join('');
	}

	function send(text) {
		text = text.replace(/^\s+|\s+$/g, '');
		if (!text || !session) return;
		var p = { txn: txnID(), body: text };
		p.el = renderMessage({ id: '', ts: Date.now(), sender: { kind: 'customer' }, text: text });
		p.el.className += ' pending';
		p.st = el('div', 'st');
		p.el.querySelector('.bubble').appendChild(p.st);
		pending[p.txn] = p;
		ui.log.appendChild(p.el);
		toBottom();
		post(p);
	}

	function post(p) {
		p.el.classList.remove('failed');
		p.st.textContent = t('sending');
		api('POST', 'messages', { txn_id: p.txn, body: p.body }).then(function (r) {
			clearAlert();
			if (!pending[p.txn]) return;
			p.st.textContent = '';
			if (r.id) {
				txnOf[r.id] = p.txn;
				if (msgs[r.id]) dropPending(p.txn);
			}
		}, function (err) {
			p.el.classList.add('failed');
			p.st.textContent = t('failed') + ' ';
			var retry = el('button', '', t('retry'));
			retry.type = 'button';
			retry.addEventListener('click', function () { if (session) post(p); });
			p.st.appendChild(retry);
			failed(err);
		});
	}

	function dropPending(txn) {
		var p = pending[txn];
		delete pending[txn];
		if (p && p.el.parentNode) p.el.remove();
	}

	function submit() {
		var v = ui.input.value;
		if (!v.trim() || !session) return;
		send(v);
		ui.input.value = '';
		grow();
	}

	function grow() {
		ui.input.style.height = 'auto';
		ui.input.style.height = Math.min(ui.input.scrollHeight + 2, 140) + 'px';
	}

	// ---- the live stream -----------------------------------------------------

	function stopStream() {
		streamGen++;
		clearTimeout(reconnectTimer);
		clearTimeout(watchdog);
		if (streamCtl) streamCtl.abort();
		streamCtl = null;
	}

	function delay(n) {
		return Math.min(30000, retryMs * Math.pow(2, Math.min(n, 5))) * (0.8 + Math.random() * 0.4);
	}

	function reconnect() {
		var gen = streamGen;
		setStatus(t('reconnecting'));
		reconnectTimer = setTimeout(function () { if (gen === streamGen) connect(); }, delay(backoff++));
	}

	// connect follows ./api/stream; the first time it resumes after the
	// newest message of the history, later after the last event it got.
	function connect() {
		stopStream();
		if (!session) return;
		var gen = streamGen, ctl = new AbortController(), started = Date.now();
		streamCtl = ctl;
		var h = { Accept: 'text/event-stream', Authorization: 'Bearer ' + session };
		var resume = lastEventId || order[order.length - 1];
		if (resume) h['Last-Event-ID'] = resume;
		var alive = function () {
			clearTimeout(watchdog);
			// The server comments every 25 s; silence means a dead link.
			watchdog = setTimeout(function () { if (gen === streamGen) { ctl.abort(); reconnect(); } }, 70000);
		};
		fetch('./api/stream', { headers: h, signal: ctl.signal, cache: 'no-store', credentials: 'omit' }).then(function (res) {
			if (gen !== streamGen) return;
			if (!res.ok || !res.body) {
				return res.text().then(function (txt) {
					var j = null;
					try { j = JSON.parse(txt); } catch (x) { /* not JSON */ }
					throw apiError(res.status, j);
				});
			}
			alive();
			var reader = res.body.getReader(), dec = new TextDecoder(), buf = '', ev = fresh();
			var pump = function () {
				return reader.read().then(function (r) {
					if (gen !== streamGen) {
						reader.cancel().catch(function () {});
						return;
					}
					if (r.done) throw apiError(0, null);
					alive();
					buf += dec.decode(r.value, { stream: true });
					// A CR at the end may be half of a CRLF: keep it for later.
					var cut = buf.charAt(buf.length - 1) === '\r' ? buf.length - 1 : buf.length;
					var lines = buf.slice(0, cut).split(/\r\n|\r|\n/);
					buf = lines.pop() + buf.slice(cut);
					for (var i = 0; i < lines.length && gen === streamGen; i++) ev = line(lines[i], ev);
					return pump();
				});
			};
			return pump();
		}).catch(function (err) {
			if (gen !== streamGen || ctl.signal.aborted) return;
			clearTimeout(watchdog);
			// A stream that lasted was fine: start the backoff again.
			if (Date.now() - started > 15000) backoff = 0;
			if (err.status === 401) sessionEnded(err.message);
			else reconnect();
		});
	}

	function fresh() { return { type: '', data: [], id: null }; }

	function line(l, ev) {
		if (l === '') {
			dispatch(ev);
			return fresh();
		}
		if (l.charAt(0) === ':') return ev;
		var i = l.indexOf(':'), f = i < 0 ? l : l.slice(0, i), v = i < 0 ? '' : l.slice(i + 1);
		if (v.charAt(0) === ' ') v = v.slice(1);
		if (f === 'event') ev.type = v;
		else if (f === 'data') ev.data.push(v);
		else if (f === 'id' && v.indexOf('\0') < 0) ev.id = v;
		else if (f === 'retry' && /^\d+$/.test(v)) retryMs = Math.max(500, +v);
		return ev;
	}

	function dispatch(ev) {
		if (ev.id) lastEventId = ev.id;
		if (!ev.type && !ev.data.length) return;
		var data = null;
		if (ev.data.length) {
			try { data = JSON.parse(ev.data.join('\n')); } catch (x) { return; }
		}
		switch (ev.type || 'message') {
		case 'ready':
			setStatus('');
			break;
		case 'message':
			backoff = 0;
			setStatus('');
			var stick = atBottom || kindOf(data || {}) === 'customer';
			upsert(data);
			if (stick) toBottom();
			unread();
			markRead();
			break;
		case 'redaction':
			if (data && data.id) remove(data.id);
			break;
		case 'reset':
			// The server lost our place: start again from the newest page.
			var gen = streamGen;
			reset().then(function () { if (gen === streamGen && !lastEventId) lastEventId = order[order.length - 1] || null; }, failed);
			break;
		case 'session_ended':
			sessionEnded(data && data.message);
			break;
		}
	}

	// ---- unread and read -----------------------------------------------------

	// unread counts what others wrote after the read marker and after the
	// customer's own last message, and tells the launcher's badge.
	function unread() {
		var n = 0;
		for (var i = order.length - 1; i >= 0; i--) {
			var id = order[i];
			if (id === readUpTo || kindOf(msgs[id].m) === 'customer') break;
			n++;
		}
		if (n !== unreadSent) {
			unreadSent = n;
			toParent({ type: 'unread', count: n });
		}
	}

	function markRead() {
		if (!open || !session || !loaded || d.visibilityState === 'hidden') return;
		var id = order[order.length - 1];
		if (!id || id === lastRead) return;
		var box = ui.scroll.getBoundingClientRect(), r = msgs[id].el.getBoundingClientRect();
		if (r.top >= box.bottom || r.bottom <= box.top) return;
		lastRead = id;
		readUpTo = id;
		unread();
		api('POST', 'read', { id: id }).catch(function (err) {
			if (lastRead === id) lastRead = null;
			if (err.status === 401) sessionEnded(err.message);
		});
	}

	// ---- scrolling -----------------------------------------------------------

	function toBottom() {
		ui.scroll.scrollTop = ui.scroll.scrollHeight;
		atBottom = true;
	}

	ui.scroll.addEventListener('scroll', function () {
		var s = ui.scroll;
		atBottom = s.scrollHeight - s.scrollTop - s.clientHeight < 40;
		if (s.scrollTop < 40 && s.scrollHeight > s.clientHeight) loadEarlier();
		markRead();
	}, { passive: true });

	// ---- wiring --------------------------------------------------------------

	ui.earlier.addEventListener('click', loadEarlier);
	ui.close.addEventListener('click', function () { toParent({ type: 'close' }); });
	ui.form.addEventListener('submit', function (e) {
		e.preventDefault();
		submit();
	});
	ui.input.addEventListener('keydown', function (e) {
		if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
			e.preventDefault();
			submit();
		}
	});
	ui.input.addEventListener('input', grow);
	d.addEventListener('keydown', function (e) {
		if (e.key === 'Escape' && !e.isComposing && !e.defaultPrevented) toParent({ type: 'close' });
	});
	d.addEventListener('visibilitychange', markRead);
	w.addEventListener('online', function () {
		if (session && reconnectTimer) {
			backoff = 0;
			connect();
		}
	});
	if (!embedded) ui.close.hidden = true;

	applyStrings();
	setStatus(t('connecting'));
	toParent({ type: 'ready' });
})();
