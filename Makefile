# ferrotape: build, demo and test entry points.
#
#   make run     play the instrument live on the screen
#   make demo    render the demo patch offline to out/$(PATCH).wav
#   make test    run the whole test suite
#
# Both install missing Debian/Ubuntu system packages first (`make deps`).

SHELL := /bin/bash
.DEFAULT_GOAL := help

CARGO ?= cargo

# System packages every build needs (cpal and midir link alsa-lib; sox makes the demo input).
PACKAGES := pkg-config libasound2-dev sox
# Extra packages for the live audio/MIDI tests (a JACK server on its dummy driver, the
# ALSA jack plugin, tmux for the terminal UI, liblo-tools for the OSC client).
TEST_PACKAGES := jackd2 libjack-jackd2-dev libasound2-plugins tmux liblo-tools

# The demo: patches/$(PATCH).toml, driven by patches/$(PATCH).events.toml when it exists.
PATCH ?= frippertronics
DURATION ?= 40
OUT ?= out
PHRASE := $(OUT)/phrase.wav

.PHONY: help deps test-deps run demo test lint bench bench-live check-all clean

help:
	@echo "make run        play patches/$(PATCH).toml live on the screen (PATCH=name to choose)"
	@echo "make demo       render patches/$(PATCH).toml offline to $(OUT)/$(PATCH).wav"
	@echo "make test       run the whole test suite (and the soak test, when present)"
	@echo "make lint       cargo fmt --check and clippy with warnings as errors"
	@echo "make bench      cargo bench"
	@echo "make bench-live live CPU against SooperLooper, written into docs/performance.md"
	@echo "make check-all  lint + test"
	@echo "make deps       install missing system packages: $(PACKAGES)"
	@echo "make test-deps  the same, plus: $(TEST_PACKAGES)"

# $(call install_missing,PACKAGE...): install those of the packages dpkg does not
# report as installed; touches nothing (not even apt-get update) when all are there.
define install_missing
	@set -e; \
	if ! command -v dpkg-query >/dev/null 2>&1; then \
		echo "deps: not a Debian/Ubuntu system; make sure these (or your system's equivalents) are installed: $(1)"; \
		exit 0; \
	fi; \
	missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}' "$$p" 2>/dev/null | grep -q ' installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "deps: installing missing system packages:$$missing"; \
	sudo=""; \
	if [ "$$(id -u)" -ne 0 ]; then \
		if ! command -v sudo >/dev/null 2>&1; then \
			echo "deps: not root and sudo is not available; as root run: apt-get install --no-install-recommends$$missing" >&2; \
			exit 1; \
		fi; \
		sudo="sudo"; \
	fi; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq; \
	$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing
endef

deps:
	@command -v $(CARGO) >/dev/null 2>&1 || { \
		echo "deps: '$(CARGO)' not found. Install Rust with rustup (https://rustup.rs):" >&2; \
		echo "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh" >&2; \
		echo "then open a new shell (or run: . \"\$$HOME/.cargo/env\") and try again." >&2; \
		exit 1; }
	$(call install_missing,$(PACKAGES))

test-deps: deps
	$(call install_missing,$(TEST_PACKAGES))

# A short plucked phrase in A (about 7 s, mono, 48 kHz, 24-bit): notes overlap and ring out,
# so loops of any length pick up something musical. Written to a temporary file first so an
# interrupted run never leaves half a phrase behind.
$(PHRASE): | deps
	@mkdir -p $(@D)
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	i=0; \
	for n in 0.00:A3 0.45:E4 0.90:B4 1.35:C#5 2.10:E5 2.85:C#5 3.30:B4 3.75:F#4 4.80:A4 4.80:E3; do \
		i=$$((i + 1)); \
		sox -n -r 48000 -c 1 -b 32 -e floating-point "$$tmp/note$$i.wav" \
			synth 2.5 pluck "$${n#*:}" fade 0 2.5 1.8 pad "$${n%%:*}"; \
	done; \
	sox -m "$$tmp"/note*.wav -b 24 "$$tmp/phrase.wav" reverb 30 50 60 norm -6; \
	mv "$$tmp/phrase.wav" $@
	@echo "wrote $@ ($$(soxi -D $@) s)"

# The instrument, live on the screen. Without a sound card it runs on the
# null backend and says so; `make demo` renders offline instead.
run: deps
	$(CARGO) run --release -- patches/$(PATCH).toml

demo: deps $(PHRASE)
	$(CARGO) build --release
	$(CARGO) run --release -- render patches/$(PATCH).toml --input $(PHRASE) \
		$(if $(wildcard patches/$(PATCH).events.toml),--events patches/$(PATCH).events.toml) \
		--duration $(DURATION) --out $(OUT)/$(PATCH).wav
	@echo
	@echo "Rendered $(DURATION) s of patches/$(PATCH).toml to $(OUT)/$(PATCH).wav"
	@echo "Listen with:  play $(OUT)/$(PATCH).wav"

test: test-deps
	$(CARGO) test
	# The JACK build: the native JACK client (and cpal and midir) on private JACK dummy servers.
	$(CARGO) test --features jack
	@if [ -f tests/soak.rs ]; then \
		echo "$(CARGO) test --release --test soak -- --ignored"; \
		$(CARGO) test --release --test soak -- --ignored; \
	else \
		echo "tests/soak.rs not present: no soak test to run"; \
	fi

lint: deps
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) clippy --all-targets --features jack -- -D warnings

bench: deps
	$(CARGO) bench

# Live CPU side by side with SooperLooper on private JACK dummy servers
# (bench/live-cpu/run.sh); ROUNDS, MEAS (seconds) and PERIOD (frames) tune it.
BENCH_LIVE_PACKAGES := jackd2 libjack-jackd2-dev sooperlooper liblo-tools gcc python3
bench-live: deps
	$(call install_missing,$(BENCH_LIVE_PACKAGES))
	$(CARGO) build --release --features jack
	FT=target/release/ferrotape DOC=docs/performance.md ./bench/live-cpu/run.sh

check-all: lint test

clean:
	rm -rf $(OUT)
	$(CARGO) clean
