// Package espaceclient is the customer space: the PostgreSQL store of client
// requests, messages and attachments (store_*.go, one file per table), the
// use cases (usecase_*.go) behind the JSON API of DESIGN.md (api.go,
// handler_*.go) and behind the signed inbound webhook POST /hooks/inbound
// (inbound*.go), and who may do what (authz.go). Every read and write is
// scoped to the caller's identity, which Sessions (the Kratos session check,
// package kratos) or IdentityDirectory gives; every French label is in
// labels.go. It knows nothing of Redmine: it offers hooks so the bridge can
// enqueue work in the same transaction that stores a client's message
// (transactional outbox).
package espaceclient
