// Package readme reads the shell command blocks out of Markdown files. Its
// tests run them as a new user would: every generated project README, for
// each template on the CPU and (build only) the GPU base, and the quick
// start of the repository README, each with the installed sagekit binary
// outside the checkout and a fresh HOME.
package readme
