#!/bin/sh
# Screenshots of gltui in a real sixel terminal: xterm emulating a VT340 under a virtual X
# server. Shows the single view, the grid and the gallery (docs/screenshots.md says what to look
# for). Usage:
#
#   scripts/screenshots.sh [OUT_DIR]          (default docs/screenshots)
#
# Needs: apt-get install -y xterm xvfb x11-apps imagemagick xdotool
# Environment: DISPLAY_NUM (default 99), GEOMETRY (columns x rows, default 100x32),
#   PROJECT (a project waiting for labels; default: one is made from sample_data, ~40 s),
#   IMAGES (renderer, default sixel), BEFORE=1 (draw with textual-image's own sixel widget, to
#   see the artifacts gltui's widget removes), PREFIX (file name prefix, default none).
set -eu

cd "$(dirname "$0")/.."
OUT=${1:-docs/screenshots}
NUM=${DISPLAY_NUM:-99}
GEOMETRY=${GEOMETRY:-100x32}
IMAGES=${IMAGES:-sixel}
PREFIX=${PREFIX:-}
PY=$PWD/.venv/bin/python
for tool in xterm Xvfb xwd convert xdotool; do
  command -v $tool >/dev/null || { echo "screenshots.sh: $tool is missing (see the header)" >&2; exit 2; }
done
mkdir -p "$OUT"
work=$(mktemp -d)
xvfb_pid=""
term_pid=""
cleanup() {
  [ -n "$term_pid" ] && kill "$term_pid" 2>/dev/null || true
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

if [ -z "${PROJECT:-}" ]; then
  PROJECT=$work/proj
  "$PY" -m gltui init "$PROJECT" --data folder:sample_data/mnist --profile tiny --k 2 \
    --val-size 100 >/dev/null
  "$PY" -m gltui run "$PROJECT" --device cpu >/dev/null  # trains round 0, stops at the queue
fi

if [ "${BEFORE:-0}" = 1 ]; then
  app="$PY -c 'import sys, textual_image.widget as ti; from gltui.tui.app import make_app; make_app(sys.argv[1], image_class=ti.SixelImage, autostart=False).run()' $PROJECT"
else
  app="$PY -m gltui $PROJECT --images $IMAGES"
fi

Xvfb ":$NUM" -screen 0 1600x1200x24 >"$work/xvfb.log" 2>&1 &
xvfb_pid=$!
sleep 2
export DISPLAY=":$NUM"
# -ti vt340: xterm answers the sixel queries as a VT340 with graphics
xterm -ti vt340 -geometry "$GEOMETRY+0+0" -e sh -c "exec $app" &
term_pid=$!
xdotool mousemove 200 150  # keyboard focus follows the pointer (no window manager)

key() {  # re-enter the window first, so the key reaches it
  xdotool mousemove 900 900 sleep 0.2 mousemove 200 150 sleep 0.3 key --delay 150 "$1"
}
shot() {
  wid=$(xdotool search --onlyvisible --class xterm | head -1)
  xwd -id "$wid" | convert xwd:- -colors 64 "PNG8:$OUT/$PREFIX$1.png"
  echo "$OUT/$PREFIX$1.png"
}

sleep 10; shot single
key v; sleep 4; shot grid
key g; sleep 5; shot gallery
key q; sleep 2
