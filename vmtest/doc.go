// Package vmtest boots Debian 12 and Debian 13 guests under qemu and checks
// vigie from inside (its first-boot report) and from outside (the OpenSSH
// client against the guest's forwarded port).
//
// The tests sit behind the build tag vmtest, so `go test ./...` never runs
// them; `make vmtest` does. See README.md in this directory.
package vmtest
