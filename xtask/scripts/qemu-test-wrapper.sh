#!/bin/sh
# glibc test-wrapper that runs aarch64 test programs under qemu-user.
#
# glibc's cross-testing contract (INSTALL, "test-wrapper") calls it as
#   qemu-test-wrapper.sh PROGRAM ARGS...
#   qemu-test-wrapper.sh env [VAR=VALUE]... PROGRAM ARGS...
#   qemu-test-wrapper.sh env -i [VAR=VALUE]... PROGRAM ARGS...
# The variables are given to the guest program with qemu's -E; with -i the
# guest sees only them.  Programs that are not aarch64 ELF files (shell
# scripts, host tools) are run directly.
#
# Environment: QEMU_AARCH64 (default qemu-aarch64),
# SPLIT_STACK_TEST_SYSROOT, the -L prefix for programs that name
# /lib/ld-linux-aarch64.so.1 as their interpreter, and
# QEMU_TEST_DATA_LIMIT_KIB, the data size limit of one aarch64 test
# (default 6 GiB).
set -eu
qemu=$(command -v "${QEMU_AARCH64:-qemu-aarch64}")
sysroot=${SPLIT_STACK_TEST_SYSROOT:-/}

clear=no
vars=
if [ "${1-}" = env ]; then
  shift
  if [ "${1-}" = -i ]; then
    clear=yes
    shift
  fi
  # Collect VAR=VALUE words; the first other word is the program.
  n=0
  for arg in "$@"; do
    case $arg in
      *=*) n=$((n + 1)) ;;
      *) break ;;
    esac
  done
  i=0
  while [ "$i" -lt "$n" ]; do
    vars="$vars
-E
$1"
    shift
    i=$((i + 1))
  done
fi

prog=$1
# e_machine (offset 18, little-endian) of EM_AARCH64 is b7 00.
machine=$(od -An -tx1 -j18 -N2 "$prog" 2>/dev/null | tr -d ' \n' || true)
magic=$(od -An -c -N4 "$prog" 2>/dev/null | tr -d ' \n' || true)

oldifs=$IFS
IFS='
'
if [ "$magic" = '177ELF' ] && [ "$machine" = b700 ]; then
  # Cap the writable memory of one emulated test (RLIMIT_DATA, KiB): under
  # qemu-user a few glibc tests (nptl/tst-pthread-timedlock-lockloop)
  # grow without bound and would take the whole machine.
  # (dash and bash both have ulimit -d.)
  # shellcheck disable=SC3045
  ulimit -d "${QEMU_TEST_DATA_LIMIT_KIB:-6291456}"
  if [ "$clear" = yes ]; then
    # shellcheck disable=SC2086
    exec env -i "$qemu" -L "$sysroot" $vars "$@"
  else
    # shellcheck disable=SC2086
    exec "$qemu" -L "$sysroot" $vars "$@"
  fi
fi
IFS=$oldifs
# Not an aarch64 program: apply the variables on the host.
hostvars=$(printf '%s\n' "$vars" | grep -v -e '^-E$' -e '^$' || true)
IFS='
'
if [ "$clear" = yes ]; then
  # shellcheck disable=SC2086
  exec env -i $hostvars "$@"
fi
# shellcheck disable=SC2086
exec env $hostvars "$@"
