package main

import _ "embed"

// fixesMD is the report's last section, written by hand: each fix of
// Passerelle's own cost with the figures before and after (a run of this
// program measures only the code it runs).
//
//go:embed fixes.md
var fixesMD string
