// Command kratos builds Ory Kratos v1.3.1 from its Go module, for the project's
// test and demo stack (see scripts/stack.sh). `go install github.com/ory/kratos@v1.3.1`
// is refused because kratos' go.mod has replace directives; this module repeats them.
package main

import "github.com/ory/kratos/cmd"

func main() { cmd.Execute() }
