package browsertest

import "net/http"

// ServeElement serves a stand-in for Element that frames a widget:
// /parent.html?panel=<widget URL>&token=<OpenID token>&…, and its script
// /parent.js. The panel's browser tests use it with a fake API, the
// end-to-end tests with the real bridge and a real token.
func ServeElement(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/parent.html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(elementHTML))
	case "/parent.js":
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write([]byte(elementJS))
	default:
		http.NotFound(w, r)
	}
}

const elementHTML = `<!doctype html><html><head><meta charset="utf-8"><title>Element (stand-in)</title></head>
<body><script src="/parent.js"></script></body></html>`

// elementJS frames the panel as Element does (widgetId, parentUrl) and
// plays Element's part of the Widget API. Its query: panel (the widget's
// URL), token, server (the homeserver's name, default example.org),
// openid ("allowed", "request" or "blocked": the answer to get_openid)
// and claim (a parentUrl other than the page's own).
const elementJS = `(() => {
	'use strict';
	const q = new URLSearchParams(location.search);
	const widgetId = 'panel-widget';
	const src = new URL(q.get('panel'));
	src.searchParams.set('widgetId', widgetId);
	src.searchParams.set('parentUrl', q.get('claim') || location.href);
	const frame = document.createElement('iframe');
	frame.id = 'panel';
	frame.width = 360;
	frame.height = 860;
	frame.src = src.href;

	window.__got = [];     // everything the panel posted here: {origin, data}
	window.__replies = {}; // the panel's answers to our requests, by action
	let seq = 0, openidRequest = null;
	const creds = (token) => ({access_token: token, expires_in: 3600, matrix_server_name: q.get('server') || 'example.org', token_type: 'Bearer'});
	const toWidget = (action, data) => frame.contentWindow.postMessage({api: 'toWidget', widgetId, requestId: 'element-' + (++seq), action, data}, src.origin);
	window.grant = (token) => toWidget('openid_credentials', {state: 'allowed', original_request_id: openidRequest, ...creds(token)});

	window.addEventListener('message', (ev) => {
		if (ev.source !== frame.contentWindow) return;
		window.__got.push({origin: ev.origin, data: ev.data});
		const m = ev.data;
		if (m.api === 'toWidget' && 'response' in m) {
			window.__replies[m.action] = m.response;
		} else if (m.api === 'fromWidget' && !('response' in m)) {
			let response = {};
			if (m.action === 'get_openid') {
				openidRequest = m.requestId;
				const mode = q.get('openid');
				response = mode === 'request' || mode === 'blocked' ? {state: mode} : {state: 'allowed', ...creds(q.get('token'))};
			}
			frame.contentWindow.postMessage({...m, response}, src.origin);
		}
	});
	// As Element does once the frame has loaded.
	frame.addEventListener('load', () => toWidget('capabilities', {}));
	document.body.append(frame);
})();`
