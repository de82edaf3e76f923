package config

// Calendar is the agency's business calendar (stub: see issue 5).
type Calendar struct {
	TimeZone string `yaml:"time_zone"`
}

func (c *Calendar) applyDefaults() {
	if c.TimeZone == "" {
		c.TimeZone = "Europe/Paris"
	}
}

func (c Calendar) validate(v *validator, path string) {}
