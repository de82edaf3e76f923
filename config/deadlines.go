package config

// Deadlines holds the response-deadline policies (stub: see issue 5).
type Deadlines struct{}

// CategoryDeadlines overrides deadlines for one category (stub: see issue 5).
type CategoryDeadlines struct{}

func (d *Deadlines) applyDefaults()                           {}
func (d Deadlines) validate(v *validator, path string)         {}
func (d CategoryDeadlines) validate(v *validator, path string) {}
