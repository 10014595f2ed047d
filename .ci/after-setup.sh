#!/usr/bin/env bash
# The last words of setup.sh: how to run `sscard` by that name, and whether pcscd runs.
# Usage: bash .ci/after-setup.sh [--link]
#   --link  puts `sscard` on PATH: a symlink to .venv/bin/sscard in $SSCARD_LINK_DIR, else
#           /usr/local/bin as root, else ~/.local/bin.
set -euo pipefail
cd "$(dirname "$0")/.."
here=$(pwd)
target="$here/.venv/bin/sscard"

if [ "${1:-}" = "--link" ]; then
  if [ -n "${SSCARD_LINK_DIR:-}" ]; then dir=$SSCARD_LINK_DIR
  elif [ "$(id -u)" = 0 ]; then dir=/usr/local/bin
  else dir="$HOME/.local/bin"; fi
  mkdir -p "$dir"
  ln -sfn "$target" "$dir/sscard"
  echo "sscard: linked $dir/sscard -> $target / 已链接到 $dir/sscard"
fi

found=$(command -v sscard || true)
if [ "$found" != "$target" ] && [ "$(readlink -f "$found" 2>/dev/null)" != "$(readlink -f "$target")" ]; then
  echo "sscard is installed as $target, which is not on your PATH. Run it by that path, or"
  echo "  . .venv/bin/activate              (this shell only), or"
  echo "  bash .ci/after-setup.sh --link    (a symlink in /usr/local/bin as root, else ~/.local/bin)"
  echo "sscard 已安装在 $target，但不在 PATH 中。可用该路径运行，或"
  echo "  . .venv/bin/activate              （仅当前 shell），或"
  echo "  bash .ci/after-setup.sh --link    （root 下链接到 /usr/local/bin，否则 ~/.local/bin）"
fi

# the socket PC/SC clients connect to, not any pcscd process (a test's private one is not it)
if [ ! -S "${PCSCLITE_CSOCK_NAME:-/run/pcscd/pcscd.comm}" ]; then
  echo "pcscd (the PC/SC service) is not running: start it with \`sudo systemctl start pcscd\`,"
  echo "  or on a machine without systemd \`sudo pcscd\` (\`sudo pcscd --foreground &\` keeps it in this terminal)"
  echo "pcscd（PC/SC 服务）未运行：用 \`sudo systemctl start pcscd\` 启动；"
  echo "  没有 systemd 的机器上用 \`sudo pcscd\`（\`sudo pcscd --foreground &\` 在当前终端运行）"
fi
