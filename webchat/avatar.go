package webchat

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"maunium.net/go/mautrix/id"
)

// Avatars are served from the bridge's own origin (the frame loads nothing
// from elsewhere) at URLs only the bridge can make: the member's mxc URI
// and an HMAC of it under the appservice token, which every process
// shares. So the endpoint shows the avatars the bridge put into a
// widget's messages, and is no open proxy to the homeserver's media.
const (
	avatarSize     = 64
	maxAvatarBytes = 256 << 10
	avatarCacheCap = 512
)

type avatarCache struct {
	mu    sync.Mutex
	items map[id.ContentURI]*cachedAvatar
}

type cachedAvatar struct {
	ctype string
	data  []byte
}

func (s *Server) avatarSig(uri id.ContentURI) string {
	mac := hmac.New(sha256.New, []byte("webchat-avatar\x00"+s.opts.Config.AppService.ASToken))
	mac.Write([]byte(uri.String()))
	return hex.EncodeToString(mac.Sum(nil)[:16])
}

// avatarURL is the widget's URL of a member's avatar, or "" for none.
func (s *Server) avatarURL(raw id.ContentURIString) string {
	uri, err := raw.Parse()
	if err != nil || uri.IsEmpty() {
		return ""
	}
	return "./avatar?m=" + url.QueryEscape(uri.String()) + "&s=" + s.avatarSig(uri)
}

func (s *Server) serveAvatar(w http.ResponseWriter, r *http.Request) {
	uri, err := id.ParseContentURI(r.URL.Query().Get("m"))
	if err != nil || !hmac.Equal([]byte(s.avatarSig(uri)), []byte(r.URL.Query().Get("s"))) {
		http.NotFound(w, r)
		return
	}
	img, err := s.avatar(r.Context(), uri)
	if err != nil || img == nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", img.ctype)
	w.Header().Set("Cache-Control", "private, max-age=86400")
	_, _ = w.Write(img.data)
}

func (s *Server) avatar(ctx context.Context, uri id.ContentURI) (*cachedAvatar, error) {
	c := &s.avatars
	c.mu.Lock()
	if img, ok := c.items[uri]; ok {
		c.mu.Unlock()
		return img, nil
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := s.opts.Bot.DownloadThumbnail(ctx, uri, avatarSize, avatarSize)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ctype := resp.Header.Get("Content-Type")
	// Only raster images: an SVG could carry script.
	switch strings.TrimSpace(strings.Split(ctype, ";")[0]) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
	default:
		return nil, nil
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAvatarBytes+1))
	if err != nil || len(data) > maxAvatarBytes {
		return nil, err
	}
	img := &cachedAvatar{ctype: ctype, data: data}
	c.mu.Lock()
	if c.items == nil || len(c.items) >= avatarCacheCap {
		c.items = map[id.ContentURI]*cachedAvatar{}
	}
	c.items[uri] = img
	c.mu.Unlock()
	return img, nil
}
