# The two commands a fresh machine needs: `make run` (the platform) and `make test` (every test).
# Both create .venv and install the shared library and the four services into it first.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SERVICES := applications scoring disbursement notifications portal
PIP_INSTALL := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: install run demo test test-fast test-browser bench soak asyncapi token clean

$(VENV)/.installed: shared/pyproject.toml $(foreach s,$(SERVICES),services/$(s)/pyproject.toml) \
		services/portal/package-lock.json services/portal/scss/portal.scss
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -e 'shared[dev]' $(foreach s,$(SERVICES),-e services/$(s))
	# The portal's NHS.UK frontend styles, scripts and images, built and served by the portal itself.
	cd services/portal && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build
	touch $@

install: $(VENV)/.installed

## Run the platform: embedded MongoDB (unless MONGODB_URL), RabbitMQ, SMTP sink, four services, demo programme.
run: install
	$(BIN)/grants run

## While `make run` is up: drive one complete grant journey through the HTTP APIs.
demo: install
	$(BIN)/grants demo

## Every test: unit, integration (real broker and database), reliability, end-to-end, then the portal
## in the browser (a run of its own: Playwright's sync API holds an event loop the async tests need).
test: install
	cd tests && ../$(BIN)/pytest -q --ignore=browser
	cd tests && ../$(BIN)/pytest -q browser

## The portal's browser tests only (Chromium, the whole platform as separate processes).
test-browser: install
	cd tests && ../$(BIN)/pytest -q browser

## Unit tests only (no infrastructure needed).
test-fast: install
	cd tests && ../$(BIN)/pytest -q unit

## Benchmarks (the whole pipeline against the raw limits of this machine, the event path, the portal's
## pages); not part of `make test`. Figures go to bench-results/.
bench: install
	$(BIN)/python -m tests.bench.pipeline
	$(BIN)/python -m tests.bench.event_path
	$(BIN)/python -m tests.bench.portal_pages
	$(BIN)/python -m tests.bench.applications_search
	$(BIN)/python -m tests.bench.scoring_lists
	$(BIN)/python -m tests.bench.scale_out

## The soak (not part of `make test`, which runs a short one): SOAK_APPLICATIONS=200 applications through
## the whole journey while a random service is SIGKILLed every 10 s and the broker is restarted once.
soak: install
	$(BIN)/python -m tests.soak

## Regenerate docs/asyncapi.yaml from the event contracts.
asyncapi: install
	$(BIN)/grants asyncapi -o docs/asyncapi.yaml

clean:
	rm -rf $(VENV) .run
