package webchat

import "embed"

// Assets are the widget's files, served under /webchat/v1/ (embed.js,
// frame.html, chat.js, chat.css, i18n.js): embedded so that the bridge needs
// no CDN and no Node.
//
//go:embed assets
var assets embed.FS
