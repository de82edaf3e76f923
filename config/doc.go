// Package config loads and validates Passerelle's YAML configuration: the
// listen address, the database, Redmine, Kratos, SMTP, the business calendar,
// the client categories with their Redmine mapping rules, the status map and the
// response deadlines.
//
// Parsing is strict: an unknown key, a wrong type or a missing required value is
// an error that names the file, the line and what is expected. Secrets (API
// keys, passwords, webhook secrets) never sit in the YAML itself: they are read
// from files named in it or from PASSERELLE_* environment variables, and the
// Secret type masks them in String() and when marshalled.
package config
