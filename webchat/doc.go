// Package webchat serves the embeddable web chat: customers on a merchant's
// billing page, signed in by the merchant's token, read and write their
// customer room through a ghost user, live, without a Matrix account.
package webchat
