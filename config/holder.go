package config

import "sync/atomic"

// Holder gives every component the current configuration and lets a reload
// swap it atomically: readers never see half a configuration.
type Holder struct{ p atomic.Pointer[Config] }

// NewHolder returns a Holder of c.
func NewHolder(c *Config) *Holder {
	h := &Holder{}
	h.p.Store(c)
	return h
}

// Get returns the current configuration.
func (h *Holder) Get() *Config { return h.p.Load() }

// Set replaces the configuration.
func (h *Holder) Set(c *Config) { h.p.Store(c) }
