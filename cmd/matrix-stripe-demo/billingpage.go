package main

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// billingPage is the sample merchant's billing page: what a merchant's own
// site does to embed the web chat. Its backend (this handler) signs a
// fresh token for the signed-in customer on every page view.
type billingPage struct {
	bridgeURL  string
	account    string
	customerID string
	name       string
	secret     []byte
	srv        *http.Server
	URL        string
}

var billingTemplate = template.Must(template.New("billing").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Shop — Billing</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; color: #222">
<h1>Demo Shop</h1>
<p>Signed in as <strong>{{.Name}}</strong>.</p>
<h2>Billing</h2>
<p>Your plan, invoices and payment methods would be here. Questions about a bill? Use the chat button at the bottom right.</p>
<script src="{{.Bridge}}/webchat/v1/embed.js" data-account="{{.Account}}" data-token="{{.Token}}" async></script>
</body></html>
`))

func (p *billingPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	now := time.Now()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": p.customerID, "acct": p.account, "name": p.name,
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	}).SignedString(p.secret)
	if err != nil {
		http.Error(w, "could not sign the chat token", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = billingTemplate.Execute(w, map[string]string{"Name": p.name, "Bridge": p.bridgeURL, "Account": p.account, "Token": token})
}

// start listens on a free loopback port; URL is then the page's address
// (and the origin the web chat must allow).
func (p *billingPage) listen() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	p.URL = fmt.Sprintf("http://%s", l.Addr())
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(l) }()
	return p.URL, nil
}

func (p *billingPage) Close() error {
	if p.srv == nil {
		return nil
	}
	return p.srv.Close()
}
