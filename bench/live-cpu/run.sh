#!/bin/bash
# Live CPU of ferrotape side by side with SooperLooper, on private JACK dummy
# servers (48 kHz, PERIOD-frame periods, no real-time scheduling), in one run
# so a drifting machine affects both alike:
#
#   sooperlooper     16 mono loops (-l 16 -c 1), a metronome into the inputs,
#                    all recorded for 2 s over OSC, then 12 playing, 4 overdubbing
#   ferrotape-full   play --no-tui with ft16-full.toml: 16 free tracks, the whole
#                    tape model, driven by ft16.events.toml (the same score)
#   ferrotape-plain  the same with every model off (ft16-plain.toml)
#
# CPU = utime + stime of the process over MEAS seconds, % of one core. Prints one
# line per measurement, then the medians and ratios; with DOC=path, writes them
# into that Markdown file between the live-cpu markers.
#
# Needs: jackd2 sooperlooper liblo-tools gcc python3 (`make bench-live` installs
# them), FT = a ferrotape built with --features jack.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FT=${FT:?FT=path to a ferrotape built with --features jack}
PERIOD=${PERIOD:-256}; MEAS=${MEAS:-15}; ROUNDS=${ROUNDS:-3}; DOC=${DOC:-}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
# SooperLooper aborts without an ALSA sequencer (none on a headless machine or
# in a container); this shim makes every sequencer call fail softly.
gcc -shared -fPIC -o "$WORK/seqshim.so" "$HERE/seqshim.c" -ldl || exit 1
export JACK_NO_AUDIO_RESERVATION=1 JACK_NO_START_SERVER=1
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pct() { python3 -c "print(round(($2 - $1) / $(getconf CLK_TCK) / $MEAS * 100, 2))"; }

server() {
  export JACK_DEFAULT_SERVER=livecpu-$1-$$
  jackd -n "$JACK_DEFAULT_SERVER" --no-realtime -d dummy -r 48000 -p "$PERIOD" >/dev/null 2>&1 &
  JP=$!
  for _ in $(seq 100); do jack_lsp >/dev/null 2>&1 && break; sleep 0.05; done
  jack_metro -b 240 -f 440 -n metro >/dev/null 2>&1 & MP=$!
  sleep 0.3
}
# jack_metro can hang in its shutdown when the server goes first: stop it
# first, and for good if it does not go.
stop_gently() {
  kill "$1" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$1" 2>/dev/null; wait "$1" 2>/dev/null
}
stop_server() { stop_gently $MP; stop_gently $JP; }

run_sl() {
  server sl
  LD_PRELOAD=$WORK/seqshim.so sooperlooper -l 16 -c 1 -t 10 -p 9951 -S "$JACK_DEFAULT_SERVER" -q >/dev/null 2>&1 &
  SP=$!
  for _ in $(seq 200); do jack_lsp | grep -q 'sooperlooper:common_in_1' && break; sleep 0.05; done
  for p in $(jack_lsp | grep -E '^sooperlooper:(common_)?in'); do jack_connect metro:240_bpm "$p" 2>/dev/null; done
  sleep 0.5
  oscsend localhost 9951 /sl/-1/set sf sync 0; oscsend localhost 9951 /sl/-1/set sf quantize 0
  oscsend localhost 9951 /sl/-1/hit s record; sleep 2; oscsend localhost 9951 /sl/-1/hit s record; sleep 0.5
  for l in 12 13 14 15; do oscsend localhost 9951 /sl/$l/hit s overdub; done
  sleep 1
  c0=$(cpu $SP); sleep "$MEAS"; c1=$(cpu $SP)
  echo "sooperlooper $(pct "$c0" "$c1")" | tee -a "$WORK/results"
  kill $SP; wait $SP 2>/dev/null; stop_server
}

run_ft() {  # $1 = full | plain
  server ft
  "$FT" play "$HERE/ft16-$1.toml" --no-tui --no-virtual-midi --buffer "$PERIOD" \
    --events "$HERE/ft16.events.toml" --duration $((MEAS + 60)) >"$WORK/ft-$1.log" 2>&1 &
  FP=$!
  for _ in $(seq 200); do jack_lsp | grep -qE '^ferrotape[^:]*:in' && break; sleep 0.05; done
  for p in $(jack_lsp | grep -E '^ferrotape[^:]*:in'); do jack_connect metro:240_bpm "$p" 2>/dev/null; done
  # The score records for 2 s from 0.5 s, then plays and dubs from 2.5 s.
  sleep 4
  if [ ! -e "/proc/$FP/stat" ]; then echo "ferrotape stopped early:" >&2; tail -5 "$WORK/ft-$1.log" >&2; exit 1; fi
  c0=$(cpu $FP); sleep "$MEAS"; c1=$(cpu $FP)
  echo "ferrotape-$1 $(pct "$c0" "$c1")" | tee -a "$WORK/results"
  kill -INT $FP 2>/dev/null; wait $FP 2>/dev/null; stop_server
}

for _ in $(seq "$ROUNDS"); do run_sl; run_ft full; run_ft plain; done

python3 - "$WORK/results" "$DOC" "$PERIOD" "$MEAS" "$ROUNDS" <<'PY'
import re, statistics, sys, datetime, platform
results, doc, period, meas, rounds = sys.argv[1:]
runs = {}
for line in open(results):
    name, value = line.split()
    runs.setdefault(name, []).append(float(value))
sl = statistics.median(runs["sooperlooper"])
rows = []
for name, label, target in [
    ("sooperlooper", "SooperLooper, 16 plain loops", "the reference"),
    ("ferrotape-full", "ferrotape, 16 tracks, whole tape model", "≤ 1.0×"),
    ("ferrotape-plain", "ferrotape, 16 tracks, every model off", "≤ 0.5×"),
]:
    values = runs[name]
    median = statistics.median(values)
    spread = f"{min(values):.1f}–{max(values):.1f}"
    ratio = "1" if name == "sooperlooper" else f"{median / sl:.2f}×"
    rows.append(f"| {label} | {median:.1f} % ({spread}) | {ratio} | {target} |")
    print(f"{name}: median {median:.2f} % of a core ({spread}), {ratio} SooperLooper")
if doc:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    table = "\n".join([
        f"Measured {datetime.date.today()} on {cpu} ({len([l for l in open('/proc/cpuinfo') if l.startswith('processor')])} cores), "
        f"{period}-frame periods, {rounds} rounds of {meas} s, medians (range):",
        "",
        "| process | CPU, % of one core | against SooperLooper | target |",
        "| --- | --- | --- | --- |",
        *rows,
    ])
    text = open(doc).read()
    begin, end = "<!-- live-cpu:begin -->", "<!-- live-cpu:end -->"
    if begin not in text:
        sys.exit(f"{doc} has no {begin} … {end} section to write into")
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), begin + "\n" + table + "\n" + end, text, flags=re.S)
    open(doc + ".tmp", "w").write(text)
    import os
    os.replace(doc + ".tmp", doc)
    print(f"wrote the table into {doc}")
PY
