// Package httpx holds the small HTTP helpers both front doors of the
// customer space share (the JSON API and the pages).
package httpx

import "net/http"

// StatusWriter remembers the status written, for access logs and to know
// whether an answer has started.
type StatusWriter struct {
	http.ResponseWriter
	// Status is 0 until the header is written.
	Status int
}

// WriteHeader records code and writes it.
func (s *StatusWriter) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (s *StatusWriter) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
