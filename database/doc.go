// Package database opens Passerelle's PostgreSQL pool and applies its embedded,
// versioned SQL migrations together with River's own.
package database
