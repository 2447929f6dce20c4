// Package hostiletest proves, against the built binary, that what a local
// user controls cannot hurt vigie running as root: homes planted by
// scripts/hostile-home.sh (authorized_keys as /dev/zero, a FIFO, a 100 GB
// sparse file, a symlink to a root-only secret, terminal escapes in key
// comments, symlink loops, devices, sockets, million-line files...) and a
// listener whose process name holds terminal escapes.
//
// TestHostileHomes runs on this machine as root; vmtest's TestServiceReports
// plants the same homes in a guest where vigie.service runs. Both judge what
// vigie produced with the functions of this package: no byte of a secret in
// any output, no control byte in the table, the same checks as before the
// tricks and none of them cut short, the planted keys still seen.
package hostiletest
