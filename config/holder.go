package config

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Holder gives every component the current configuration and lets a reload
// swap it atomically: readers never see half a configuration.
//
// Components that build something from the configuration (rules, a mailer,
// a calendar) subscribe: Apply asks each of them to build from the new
// configuration first, and swaps only when every one of them could; else the
// current configuration, and everything built from it, stays.
type Holder struct {
	p atomic.Pointer[Config]

	mu   sync.Mutex // serializes Apply and Subscribe
	subs []Subscriber
}

// Subscriber builds what a component needs from a candidate configuration,
// without putting it in force. It returns an error when it cannot (the
// configuration is then refused), else a commit function that puts what it
// built in force; Apply calls every commit once every subscriber built.
type Subscriber func(next *Config) (commit func(), err error)

// NewHolder returns a Holder of c.
func NewHolder(c *Config) *Holder {
	h := &Holder{}
	h.p.Store(c)
	return h
}

// Get returns the current configuration.
func (h *Holder) Get() *Config { return h.p.Load() }

// Subscribe adds a subscriber; it is asked about every later Apply.
func (h *Holder) Subscribe(s Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.subs = append(h.subs, s)
}

// Apply puts next in force if every subscriber can build from it; else it
// returns why not (every refusal), and the current configuration stays.
func (h *Holder) Apply(next *Config) error {
	if next == nil {
		return errors.New("config: no configuration to apply")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	commits := make([]func(), 0, len(h.subs))
	for _, s := range h.subs {
		commit, err := s(next)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		commits = append(commits, commit)
	}
	if len(errs) > 0 {
		return fmt.Errorf("configuration refused: %w", errors.Join(errs...))
	}
	h.p.Store(next)
	for _, c := range commits {
		if c != nil {
			c()
		}
	}
	return nil
}

// Set is Apply for a configuration known to be good (tests, tools): it
// panics if a subscriber refuses it.
func (h *Holder) Set(c *Config) {
	if err := h.Apply(c); err != nil {
		panic(err)
	}
}
