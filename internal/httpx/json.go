package httpx

import (
	"encoding/json"
	"net/http"
)

// WriteJSON writes v as the JSON answer with status: the one writer of the
// API's answers and of every hook's refusals ({"error":{"code","message"}}).
// Answers are private (never cached by a proxy) and never sniffed as
// anything but JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "private, no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}
