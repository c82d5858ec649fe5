// Package cli is the sagekit command line: thin cobra commands that parse
// flags into option structs and call the library packages.
package cli
