// Package kratos is Passerelle's side of Ory Kratos, the counterpart of
// package redmine: it checks the customer space's sessions (Sessions, on
// Kratos' public API), reads identities on the agency's behalf (Directory, on
// the admin API) and deactivates or re-activates them. An Identity's role,
// lots and mandates come from metadata_public only.
//
// Its errors are typed (errors.go): ErrNoSession, ErrNoRole and
// ErrUnavailable for a session check, ErrNotFound, ErrIdentityInactive and
// ErrEmailUnverified for the directory. It knows nothing of the customer
// space's HTTP answers: the callers turn those errors into their own.
package kratos
