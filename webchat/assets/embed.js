/* matrix-stripe web chat, for merchants' pages:
     <script src="https://BRIDGE/webchat/v1/embed.js" data-account="main" data-token="JWT" async></script>
   or, in a single-page app, load it without data-token and call
     MatrixStripeChat.boot({account, token, locale, onTokenExpired})
   It adds a launcher button and a panel with the chat (an iframe from the
   bridge). Everything it adds lives in one element's shadow root. */
(function () {
	'use strict';
	var w = window, d = document, NS = 'matrix-stripe-chat';
	var me = d.currentScript;
	if (!me || !/\/embed\.js(?:[?#]|$)/.test(me.src || '')) {
		var all = d.querySelectorAll('script[src*="/webchat/v1/embed.js"]');
		me = all[all.length - 1] || null;
	}
	if (!me) return;
	// Loaded twice: the newer copy takes over.
	if (w.MatrixStripeChat && typeof w.MatrixStripeChat.shutdown === 'function') w.MatrixStripeChat.shutdown();
	var src = new URL(me.src, d.baseURI), ORIGIN = src.origin, BASE = new URL('./', src).href;

	var STR = {
		en: ['Open support chat', 'Support chat', '{n} unread message', '{n} unread messages'],
		de: ['Support-Chat öffnen', 'Support-Chat', '{n} ungelesene Nachricht', '{n} ungelesene Nachrichten'],
		es: ['Abrir el chat de soporte', 'Chat de soporte', '{n} mensaje sin leer', '{n} mensajes sin leer'],
		fr: ['Ouvrir le chat d’assistance', 'Chat d’assistance', '{n} message non lu', '{n} messages non lus'],
		pt: ['Abrir o chat de suporte', 'Chat de suporte', '{n} mensagem não lida', '{n} mensagens não lidas']
	};

	function pick(tags) {
		for (var i = 0; i < tags.length; i++) {
			var l = String(tags[i] || '').toLowerCase().split(/[-_]/)[0];
			if (STR.hasOwnProperty(l)) return l;
		}
		return 'en';
	}

	var CSS_TEXT = [
		':host{all:initial}',
		'.l{all:initial;position:fixed;right:20px;bottom:20px;z-index:2147483000;width:56px;height:56px;border-radius:50%;',
		'background:var(--msc-accent,#635bff);color:#fff;box-shadow:0 4px 14px rgba(0,0,0,.28);cursor:pointer;',
		'display:flex;align-items:center;justify-content:center;box-sizing:border-box}',
		'.l:focus-visible{outline:3px solid #0b57d0;outline-offset:3px}',
		'.l svg{width:28px;height:28px;fill:currentColor}',
		'.b{position:absolute;top:-4px;right:-4px;min-width:22px;height:22px;padding:0 6px;box-sizing:border-box;border-radius:11px;',
		'background:#c5221f;color:#fff;font:700 12px/22px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;text-align:center;',
		'box-shadow:0 0 0 2px #fff}',
		'.b[hidden]{display:none}',
		'.p{position:fixed;right:20px;bottom:88px;z-index:2147483001;width:380px;height:640px;max-height:calc(100vh - 108px);',
		'border-radius:14px;overflow:hidden;background:#fff;box-shadow:0 10px 34px rgba(0,0,0,.3);',
		'visibility:hidden;opacity:0;transform:translateY(10px);transition:opacity .15s,transform .15s,visibility 0s .15s}',
		'.p.o{visibility:visible;opacity:1;transform:none;transition:opacity .15s,transform .15s}',
		'.p iframe{display:block;width:100%;height:100%;border:0;margin:0;padding:0}',
		'@media (max-width:480px),(max-height:560px){.p{top:0;left:0;right:0;bottom:0;width:auto;height:auto;max-height:none;border-radius:0}}',
		'@media (prefers-color-scheme:dark){.p{background:#16181d}.b{box-shadow:0 0 0 2px #16181d}}',
		'@media (prefers-reduced-motion:reduce){.p,.p.o{transition:none}}'
	].join('');

	var cur = null;

	function Chat(o) {
		var self = this;
		this.account = String(o.account || '');
		this.token = String(o.token || '');
		this.locale = o.locale ? String(o.locale) : '';
		this.onTokenExpired = typeof o.onTokenExpired === 'function' ? o.onTokenExpired : null;
		this.lang = pick(this.locale ? [this.locale] : (navigator.languages || [navigator.language]));
		this.isOpen = false;
		this.ready = false;
		this.unread = 0;
		this.renewing = false;
		this.onMessage = function (e) { self.message(e); };
		this.onKey = function (e) {
			if (e.key === 'Escape' && self.isOpen && d.activeElement === self.host) self.close(true);
		};
		if (d.body) this.mount();
		else d.addEventListener('DOMContentLoaded', function () { if (cur === self) self.mount(); });
	}

	Chat.prototype.mount = function () {
		var self = this, s = STR[this.lang];
		var host = this.host = d.createElement('div');
		host.setAttribute('data-matrix-stripe-chat', '');
		// Inline and important: no rule of the host page reaches it.
		host.style.setProperty('all', 'initial', 'important');
		var root = host.attachShadow({ mode: 'open' });
		// A constructed sheet passes a host page's CSP; a <style> is the fallback.
		if (root.adoptedStyleSheets && w.CSSStyleSheet && CSSStyleSheet.prototype.replaceSync) {
			var sheet = new CSSStyleSheet();
			sheet.replaceSync(CSS_TEXT);
			root.adoptedStyleSheets = [sheet];
		} else {
			var st = d.createElement('style');
			st.textContent = CSS_TEXT;
			root.appendChild(st);
		}

		var panel = this.panel = d.createElement('div');
		panel.className = 'p';
		panel.id = 'msc-panel';
		panel.setAttribute('role', 'dialog');
		panel.setAttribute('aria-label', s[1]);
		var frame = this.frame = d.createElement('iframe');
		frame.title = s[1];
		// The token is not in the address: it goes by postMessage once the
		// frame says it is ready.
		frame.src = BASE + 'frame?account=' + encodeURIComponent(this.account);
		frame.setAttribute('sandbox', 'allow-scripts allow-same-origin allow-forms allow-popups allow-popups-to-escape-sandbox');
		frame.setAttribute('referrerpolicy', 'origin');
		panel.appendChild(frame);

		var l = this.launcher = d.createElement('button');
		l.className = 'l';
		l.type = 'button';
		l.setAttribute('aria-expanded', 'false');
		l.setAttribute('aria-controls', 'msc-panel');
		var svg = d.createElementNS('http://www.w3.org/2000/svg', 'svg');
		svg.setAttribute('viewBox', '0 0 24 24');
		svg.setAttribute('aria-hidden', 'true');
		svg.setAttribute('focusable', 'false');
		var path = d.createElementNS('http://www.w3.org/2000/svg', 'path');
		path.setAttribute('d', 'M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H8.4L4 21.5V18a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3zm5 0a1.5 1.5 0 1 0 0 3 1.5 1.5 0 0 0 0-3z');
		svg.appendChild(path);
		l.appendChild(svg);
		var b = this.badge = d.createElement('span');
		b.className = 'b';
		b.setAttribute('aria-hidden', 'true');
		b.hidden = true;
		l.appendChild(b);
		l.addEventListener('click', function () { if (self.isOpen) self.close(true); else self.open(); });
		this.label();

		root.appendChild(l);
		root.appendChild(panel);
		w.addEventListener('message', this.onMessage);
		d.addEventListener('keydown', this.onKey, true);
		d.body.appendChild(host);
	};

	Chat.prototype.label = function () {
		var s = STR[this.lang], n = this.unread, text = s[0];
		if (n > 0) {
			var one = 'one';
			try { one = new Intl.PluralRules(this.lang).select(n); } catch (e) { one = n === 1 ? 'one' : 'other'; }
			text += ', ' + s[one === 'one' ? 2 : 3].replace('{n}', n);
		}
		this.launcher.setAttribute('aria-label', text);
		this.badge.textContent = n > 99 ? '99+' : String(n);
		this.badge.hidden = n <= 0;
	};

	Chat.prototype.post = function (msg) {
		if (!this.frame || !this.frame.contentWindow) return;
		msg.ns = NS;
		this.frame.contentWindow.postMessage(msg, ORIGIN);
	};

	Chat.prototype.sendToken = function () {
		if (!this.ready || !this.token) return;
		this.post({ type: 'token', account: this.account, token: this.token, locale: this.locale, renewable: !!this.onTokenExpired });
	};

	Chat.prototype.message = function (e) {
		if (!this.frame || e.source !== this.frame.contentWindow || e.origin !== ORIGIN) return;
		var m = e.data;
		if (!m || typeof m !== 'object' || m.ns !== NS) return;
		switch (m.type) {
		case 'ready':
			this.ready = true;
			this.sendToken();
			this.post({ type: 'visibility', open: this.isOpen });
			if (this.isOpen) this.post({ type: 'focus' });
			break;
		case 'unread':
			this.unread = Math.max(0, m.count | 0);
			this.label();
			break;
		case 'theme':
			if (typeof m.accent === 'string' && w.CSS && CSS.supports('color', m.accent)) this.launcher.style.setProperty('--msc-accent', m.accent);
			break;
		case 'token_expired':
			this.renew();
			break;
		case 'close':
			this.close(true);
			break;
		}
	};

	// renew asks the page for a fresh token (onTokenExpired may return one or
	// a promise of one) and hands it to the frame.
	Chat.prototype.renew = function () {
		var self = this, old = this.token;
		if (!this.onTokenExpired || this.renewing) return;
		this.renewing = true;
		new Promise(function (ok) { ok(self.onTokenExpired()); }).then(function (tok) {
			self.renewing = false;
			if (cur !== self || typeof tok !== 'string' || !tok || tok === old) return;
			self.token = tok;
			self.sendToken();
		}, function () { self.renewing = false; });
	};

	Chat.prototype.open = function () {
		if (!this.host || this.isOpen) return;
		this.isOpen = true;
		this.panel.classList.add('o');
		this.launcher.setAttribute('aria-expanded', 'true');
		this.post({ type: 'visibility', open: true });
		this.frame.focus();
		this.post({ type: 'focus' });
	};

	Chat.prototype.close = function (focusLauncher) {
		if (!this.host || !this.isOpen) return;
		this.isOpen = false;
		this.panel.classList.remove('o');
		this.launcher.setAttribute('aria-expanded', 'false');
		this.post({ type: 'visibility', open: false });
		if (focusLauncher) this.launcher.focus();
	};

	Chat.prototype.destroy = function () {
		w.removeEventListener('message', this.onMessage);
		d.removeEventListener('keydown', this.onKey, true);
		if (this.host && this.host.parentNode) this.host.parentNode.removeChild(this.host);
		this.host = this.frame = null;
	};

	function shutdown() {
		if (cur) cur.destroy();
		cur = null;
	}

	w.MatrixStripeChat = {
		boot: function (o) {
			shutdown();
			o = o || {};
			if (!o.account || !o.token) throw new Error('MatrixStripeChat.boot needs an account and a token');
			cur = new Chat(o);
		},
		shutdown: shutdown,
		open: function () { if (cur) cur.open(); },
		close: function () { if (cur) cur.close(false); }
	};

	var ds = me.dataset;
	if (ds.account && ds.token) w.MatrixStripeChat.boot({ account: ds.account, token: ds.token, locale: ds.locale });
})();
