// Package notify delivers e-mail to clients and staff: immediate messages,
// the daily digest, and deadline warnings.
package notify
