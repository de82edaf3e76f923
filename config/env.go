package config

import "os"

// lookupEnv returns a non-empty environment variable.
func lookupEnv(name string) (string, bool) {
	v, ok := os.LookupEnv(name)
	return v, ok && v != ""
}
