// Package redmine is Passerelle's Redmine REST client. It wraps
// github.com/mattn/go-redmine and adds what that library lacks (context,
// timeouts, uploads with application/octet-stream, journals, the API key in a
// header rather than the query string, X-Skip-Webhooks on every write).
package redmine
