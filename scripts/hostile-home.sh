#!/usr/bin/env bash
# hostile-home.sh: what a local user can put in their own home to hurt a
# root process that reads it (vigie reads ~/.ssh/authorized_keys and every
# path sshd's AuthorizedKeysFile expands to). Run it AS THAT USER, never
# as root: it only writes under $HOME.
#
#   hostile-home.sh list                print the trick names, one a line
#   hostile-home.sh TRICK [PATH]        plant one trick in $HOME
#   hostile-home.sh listen [SECONDS]    listen on 0.0.0.0 (a free TCP port,
#                                       printed on stdout) under a process
#                                       name holding terminal escapes, then
#                                       exit after SECONDS (default 600)
#
# The tricks (ak is ~/.ssh/authorized_keys, ak2 ~/.ssh/authorized_keys2):
#   zero     ak -> /dev/zero, ak2 -> /dev/urandom
#   fifo     ak and ak2 are FIFOs nobody writes to
#   sparse   ak is a 100 GB sparse file; ak2 one valid key, then 100 GB of NULs
#   secret   ak and ak2 -> PATH, a file only root can read
#   escapes  ak: a valid ED25519 key whose comment holds terminal escapes,
#            an RSA key, and a junk line full of escapes
#   loop     ak -> ak2 -> ak
#   sshloop  ~/.ssh -> ~/.ssh-loop -> ~/.ssh
#   procmem  ak -> /proc/self/mem, ak2 -> /proc/self/environ (the reader's own)
#   tty      ak -> /dev/tty, ak2 -> /dev/ptmx (both block a reader)
#   socket   ak and ak2 are unix sockets
#   devices  ak -> a block device (the first of sda, vda, nvme0n1, xvda,
#            loop0 that exists, else /dev/null), ak2 -> /dev/null
#   million  ak: a million comment lines; ak2: a million junk lines (2 MB each)
#   big      ak: 1.5 MiB of comments, then a valid ED25519 key; ak2: one
#            2 MiB line with no newline
#   dir      ak and ak2 are directories
#   names    file names with newlines, escapes and invalid UTF-8 in ~/.ssh
#            and in $HOME; ak: a valid key with an invalid UTF-8 comment;
#            ak2 -> one of those oddly named files
#   rootdir  ~/.ssh -> PATH, a directory only root can read
set -euo pipefail

tricks="zero fifo sparse secret escapes loop sshloop procmem tty socket devices million big dir names rootdir"

# Public keys only (no private half exists anywhere): ED25519 is what vigie
# accepts, RSA what it must report.
ed25519_key='ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFxptsx3anxuWD0W6Ci/lCDMd9/mOyKeeCZ8jGNDX64r'
rsa_key='ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDMe5haNv1HhM2XzyoBkgmN5NKG/v4z8e4EiSXmXs0l9yMDeULR3FbfBJCXbOmW55z+Qh+RXluLASOhBQBuClTfq1CqBAOlVGrpxmuJXT9F39HJoe2tJoPcYfm0FFgp+j6jpmLTZuJTzyfacGgBqQMGJHoCPOvWfFf+WTIyibnwab8trDsgGo/Q+eLHf76EYa9ZNRS+9pkb6lCwylQXBAfEKwnmmvEPKt/bn88PpxjIBTWNqj1hs6KmviBQ57P8JTLFv+49Cd//WWxhjgLmBL+BFlZ5pvNrZQXhhpdLZBgmET1ZIlnIjjs4meBLhfm/og11B6Ttu9Lh+dHhYoq3pKYH'

die() { echo "hostile-home.sh: $*" >&2; exit 2; }

case "${1:-}" in
'' | -h | --help)
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
  exit 0
  ;;
list)
  printf '%s\n' $tricks
  exit 0
  ;;
esac

[ "$(id -u)" -ne 0 ] || die "run me as the account whose home gets the trick, not as root"
[ -n "${HOME:-}" ] && [ -d "$HOME" ] && [ -O "$HOME" ] || die "HOME ($HOME) is not a directory this account owns"
cd "$HOME"

ssh_dir() { rm -rf .ssh; mkdir -m 0700 .ssh; }
ak=.ssh/authorized_keys
ak2=.ssh/authorized_keys2

listen() {
  # A socket on 0.0.0.0 is what the firewall area reports with its owner's
  # process name; the name (15 bytes at most, set through /proc/self/comm)
  # clears the screen, sets the terminal title and moves the cursor.
  exec python3 -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind(("0.0.0.0", 0))
s.listen(1)
with open("/proc/self/comm", "wb") as f:
    f.write(b"\x1b[2J\n\x1b]0;pw\x07\rvh")
print(s.getsockname()[1], flush=True)
time.sleep(float(sys.argv[1]))
' "${1:-600}"
}

mksocket() { python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$1"; }

trick=$1
case $trick in
zero)
  ssh_dir
  ln -s /dev/zero $ak
  ln -s /dev/urandom $ak2
  ;;
fifo)
  ssh_dir
  mkfifo $ak $ak2
  ;;
sparse)
  ssh_dir
  truncate -s 100G $ak
  printf '%s sparse\n' "$ed25519_key" >$ak2
  truncate -s 100G $ak2
  ;;
secret)
  [ -n "${2:-}" ] || die "secret: give the path of a file only root can read"
  ! [ -r "$2" ] || die "secret: $2 is readable by this account: not a secret"
  ssh_dir
  ln -s "$2" $ak
  ln -s "$2" $ak2
  ;;
escapes)
  ssh_dir
  {
    # ESC [2J clears the screen, ESC ]0;...BEL sets the title, CR returns
    # to the line start, CSI A/K move up and erase, 0x9b is the 8-bit CSI.
    printf '%s \033[2J\033[H\033]0;pwned\007\rroot@prod \033[1A\033[2K\033[32mPASS\033[0m \2332J\n' "$ed25519_key"
    printf '%s rsa-key-vh\n' "$rsa_key"
    printf '\033]0;junk\007\033[2J not a key \033[31m\r\033[K\n'
  } >$ak
  ;;
loop)
  ssh_dir
  ln -s authorized_keys2 $ak
  ln -s authorized_keys $ak2
  ;;
sshloop)
  rm -rf .ssh .ssh-loop
  ln -s .ssh-loop .ssh
  ln -s .ssh .ssh-loop
  ;;
procmem)
  ssh_dir
  ln -s /proc/self/mem $ak
  ln -s /proc/self/environ $ak2
  ;;
tty)
  ssh_dir
  ln -s /dev/tty $ak
  ln -s /dev/ptmx $ak2
  ;;
socket)
  ssh_dir
  mksocket $ak
  mksocket $ak2
  ;;
devices)
  ssh_dir
  dev=/dev/null
  for d in /dev/sda /dev/vda /dev/nvme0n1 /dev/xvda /dev/loop0; do
    if [ -b "$d" ]; then dev=$d; break; fi
  done
  ln -s "$dev" $ak
  ln -s /dev/null $ak2
  ;;
million)
  ssh_dir
  awk 'BEGIN { for (i = 0; i < 1000000; i++) print "#" }' >$ak
  awk 'BEGIN { for (i = 0; i < 1000000; i++) print "x" }' >$ak2
  ;;
big)
  ssh_dir
  awk 'BEGIN { for (n = 0; n < 1572864; n += 65) print "# padding to push the next key past the first MiB of the file..." }' >$ak
  printf '%s past-one-mib\n' "$ed25519_key" >>$ak
  head -c 2097152 /dev/zero | tr '\0' 'A' >$ak2
  ;;
dir)
  ssh_dir
  mkdir $ak $ak2
  printf '%s in-a-dir\n' "$ed25519_key" >$ak/key
  ;;
names)
  ssh_dir
  odd=$'evil\nname \033[2J\033]0;t\007\xff\xfe'
  printf '%s odd-name\n' "$ed25519_key" >".ssh/$odd"
  printf '%s odd-name\n' "$ed25519_key" >"$odd"
  : >$'.ssh/authorized_keys\n.pub'
  : >$'\xff\xfe\xc0\x80'
  printf '%s \xff\xfe\xc0\x80 invalid-utf8\n' "$ed25519_key" >$ak
  ln -s "$HOME/.ssh/$odd" $ak2
  ;;
rootdir)
  [ -n "${2:-}" ] || die "rootdir: give a directory only root can read"
  ! [ -r "$2" ] || die "rootdir: $2 is readable by this account"
  rm -rf .ssh
  ln -s "$2" .ssh
  ;;
listen)
  listen "${2:-600}"
  ;;
*)
  die "unknown trick $trick (one of: $tricks, or listen)"
  ;;
esac
