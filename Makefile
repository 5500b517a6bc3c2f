# Connected Learning Hub. `make demo` runs it on this computer; `make test` runs every test.
#
# The Python environment is built from Debian's /usr/bin/python3 (python3-venv): learners'
# servers run as their own system users, and an interpreter under /root (pyenv) is not
# readable by them.

PYTHON ?= $(shell test -x /usr/bin/python3 && echo /usr/bin/python3 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: demo test bench lint install proxy chromium fence disks postgresql clean-demo labextension

# Learners' processes cannot write __pycache__ into the checkout: compile it for them.
install: $(VENV)/.installed proxy fence disks
	$(BIN)/python -m compileall -q extensions

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	# jsonschema's optional IRI checker (rfc3987-syntax 1.1, via jupyter-events) builds a Lark grammar
	# on import: about 1 s of CPU in every process that imports nbformat or jupyter_server (each
	# learner's server, the hub's services). Nothing here checks IRIs; without it the services answer
	# the hub within its 10 s on a busy machine (python-jsonschema/jsonschema#1521).
	$(BIN)/pip uninstall --quiet --yes rfc3987-syntax
	touch $@

# The proxy goes beside the environment's Python, where the hub looks for it: the installed
# package knows nothing of this checkout.
proxy: node_modules/.installed $(VENV)/.installed
	ln -sf $(CURDIR)/node_modules/.bin/configurable-http-proxy $(BIN)/configurable-http-proxy

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	$(BIN)/clhub demo

# Learners' code (grading, "Play with it") runs only inside a bubblewrap fence; setpriv and
# prlimit come with util-linux.
fence:
	@command -v bwrap >/dev/null && command -v setpriv >/dev/null && command -v prlimit >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux; \
	  else echo "Install Debian's bubblewrap package (sudo apt-get install bubblewrap)"; exit 1; fi; }

# Each learner's home is an ext4 file system of its own (host/disks.py): mkfs.ext4, e2fsck and
# resize2fs come with e2fsprogs, which slim Debian images leave out; mount and losetup are always there.
disks:
	@command -v mkfs.ext4 >/dev/null && command -v resize2fs >/dev/null && command -v e2fsck >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq e2fsprogs; \
	  else echo "Install Debian's e2fsprogs package (sudo apt-get install e2fsprogs) for learners' disks"; fi; }

# The PostgreSQL tests start a throwaway server of Debian's postgresql (tests/postgres.py); a
# site itself needs only a PostgreSQL server somewhere (README: PostgreSQL).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else echo "Install Debian's postgresql package (sudo apt-get install postgresql)"; exit 1; fi; }

# Browser tests drive Debian's Chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; \
	  else echo "Install Debian's chromium package (sudo apt-get install chromium)"; exit 1; fi; }

# The whole suite runs with the start-up and kernel templates on (the default), then the
# integration and browser tests again with both off (tests/realhub.py reads CLHUB_TEST_TEMPLATES).
# Integration tests create real system users; their servers must be able to reach the
# environment and the catalog, so as root the folders on the way to this checkout get o+x
# (search only) and the checkout o+rX.
test: install chromium postgresql
	@if [ "$$(id -u)" = 0 ]; then \
	  d="$(CURDIR)"; while [ "$$d" != "/" ]; do chmod o+x "$$d"; d=$$(dirname "$$d"); done; \
	  chmod -R o+rX $(VENV) extensions workbooks hub_config node_modules; fi
	$(BIN)/ruff check extensions tests benchmarks
	$(BIN)/ruff format --check extensions tests benchmarks
	$(BIN)/mypy extensions/connected_learning
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)
	@echo "The integration and browser tests again, with the start-up and kernel templates off:"
	CLHUB_TEST_TEMPLATES=false $(BIN)/python -m pytest -n 2 --dist loadfile -m "integration or browser" $(PYTEST_ARGS)

bench: install
	$(BIN)/python benchmarks/run.py

lint: install
	$(BIN)/ruff check extensions tests benchmarks
	$(BIN)/ruff format --check extensions tests benchmarks
	$(BIN)/mypy extensions/connected_learning

clean-demo:
	rm -rf .clhub-demo

# The JupyterLab plug-in is committed prebuilt (extensions/connected_learning/learner/labextensions);
# after changing extensions/clhub-lab/src, rebuild it with:
labextension: install
	cd extensions/clhub-lab && npm ci --no-audit --no-fund --loglevel=error && PATH=$(CURDIR)/$(BIN):$$PATH jupyter labextension build .
