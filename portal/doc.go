// Package portal owns the one Matrix room per (account, customer): creating
// and updating rooms, Spaces, invites and power levels, delivering billing
// events in order, and rendering them as Matrix messages.
package portal
