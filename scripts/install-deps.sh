#!/usr/bin/env bash
# Installs the system packages the build needs, by name, from Debian's repositories.
# Safe to run repeatedly: it installs only what is missing.
set -euo pipefail

need_pkgs=()
# bindgen (used by the rocksdb crate) needs libclang; RocksDB itself needs a C++ compiler.
for pkg in libclang-dev clang g++ make pkg-config; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need_pkgs+=("$pkg")
done

if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "==> installing Debian packages: ${need_pkgs[*]}"
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
  elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "error: need root (or sudo) to install: ${need_pkgs[*]}" >&2
    echo "       run: apt-get install -y ${need_pkgs[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq "${need_pkgs[@]}" >/dev/null
fi

for tool in go cargo node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "error: \`$tool\` is not installed; install Go, Rust (rustup), and Node.js with npm first" >&2
    exit 1
  fi
done
