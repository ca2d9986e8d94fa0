# The single entry point. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := all

BUILD   := build
SRC_DIR := api/src
PKGS    := libh2o-evloop libpq jansson
CC      ?= cc
CSTD    := -std=c17
WARN    := -Wall -Wextra -Werror -Wshadow -Wformat=2
# Debian's libh2o-evloop.pc does not select the evloop backend: without this
# h2o/socket.h falls back to the libuv binding.
DEFS    := -DH2O_USE_LIBUV=0 -D_GNU_SOURCE
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS   = $(shell pkg-config --libs $(PKGS))
CFLAGS  ?= -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

SRCS     := $(wildcard $(SRC_DIR)/*.c)
HDRS     := $(wildcard $(SRC_DIR)/*.h)
TEST_HDRS := $(wildcard api/tests/*.h)
LIB_SRCS := $(filter-out $(SRC_DIR)/main.c,$(SRCS))
UNIT_SRCS := api/tests/test_request.c $(SRC_DIR)/request.c
BATCH_SRCS := api/tests/test_db_batch.c $(SRC_DIR)/db_batch.c
METRICS_SRCS := api/tests/test_metrics.c $(SRC_DIR)/metrics.c
DB_SRCS  := $(wildcard db/c/*.c)
DB_HDRS  := $(wildcard db/c/*.h)
C_FILES  := $(SRCS) $(HDRS) $(TEST_HDRS) $(wildcard api/tests/*.c api/fuzz/*.c) $(DB_SRCS) $(DB_HDRS)

# The database's C functions (db/c), loaded by PostgreSQL from build/:
# PostgreSQL's server headers, and the code-generation flags its own build
# uses (pg_config --cflags) that change what C means: no strict aliasing,
# wrapping signed arithmetic. -isystem: warnings are ours, not its headers'.
DB_LIB    := $(BUILD)/rinha_db.so
PG_SERVER_INC = $(shell pg_config --includedir-server)
DB_CFLAGS = -fPIC -shared -fno-strict-aliasing -fwrapv -fexcess-precision=standard -Wmissing-prototypes \
            -isystem $(PG_SERVER_INC)

.PHONY: all asan deps run test unit integration integration-asan lint format format-check clean help

all: $(BUILD)/rinha-api $(DB_LIB) ## build the server (release) and the database's C functions

asan: $(BUILD)/rinha-api-asan $(DB_LIB) ## build the server with ASan+UBSan (and the database's C functions)

$(BUILD)/rinha-api: $(SRCS) $(HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(CFLAGS) $(WARN) $(DEFS) $(PKG_CFLAGS) $(SRCS) -o $@ $(PKG_LIBS)

$(BUILD)/rinha-api-asan: $(SRCS) $(HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(SAN) $(WARN) $(DEFS) $(PKG_CFLAGS) $(SRCS) -o $@ $(PKG_LIBS)

# Not sanitized: PostgreSQL itself is not built with ASan, and a sanitized
# library cannot be loaded into it. tests/integration/test_lote_c.py checks
# it against the PL/pgSQL procedure instead.
$(DB_LIB): $(DB_SRCS) $(DB_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(CFLAGS) $(WARN) -D_GNU_SOURCE $(DB_CFLAGS) $(DB_SRCS) -o $@

$(BUILD)/test_request: $(UNIT_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(CFLAGS) $(WARN) $(DEFS) -I$(SRC_DIR) $(UNIT_SRCS) -o $@ $(shell pkg-config --cflags --libs check jansson)

$(BUILD)/test_request-asan: $(UNIT_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(SAN) $(WARN) $(DEFS) -I$(SRC_DIR) $(UNIT_SRCS) -o $@ $(shell pkg-config --cflags --libs check jansson)

$(BUILD)/test_db_batch: $(BATCH_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(CFLAGS) $(WARN) $(DEFS) $(PKG_CFLAGS) -I$(SRC_DIR) $(BATCH_SRCS) -o $@ $(shell pkg-config --cflags --libs check) $(PKG_LIBS)

$(BUILD)/test_db_batch-asan: $(BATCH_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(SAN) $(WARN) $(DEFS) $(PKG_CFLAGS) -I$(SRC_DIR) $(BATCH_SRCS) -o $@ $(shell pkg-config --cflags --libs check) $(PKG_LIBS)

$(BUILD)/test_metrics: $(METRICS_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(CFLAGS) $(WARN) $(DEFS) -I$(SRC_DIR) $(METRICS_SRCS) -o $@ $(shell pkg-config --cflags --libs check)

$(BUILD)/test_metrics-asan: $(METRICS_SRCS) $(HDRS) $(TEST_HDRS) Makefile | $(BUILD)
	$(CC) $(CSTD) $(SAN) $(WARN) $(DEFS) -I$(SRC_DIR) $(METRICS_SRCS) -o $@ $(shell pkg-config --cflags --libs check)

$(BUILD):
	mkdir -p $@

deps: ## install the Debian packages the project needs (apt-get, as root)
	scripts/deps.sh

run: deps all ## start PostgreSQL, both replicas and nginx on :9999 (Ctrl-C stops)
	scripts/stack.sh run

unit: $(BUILD)/test_request $(BUILD)/test_request-asan $(BUILD)/test_db_batch $(BUILD)/test_db_batch-asan \
      $(BUILD)/test_metrics $(BUILD)/test_metrics-asan ## C unit tests, plain and sanitized
	$(BUILD)/test_request
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 $(BUILD)/test_request-asan
	$(BUILD)/test_db_batch
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 $(BUILD)/test_db_batch-asan
	$(BUILD)/test_metrics
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 $(BUILD)/test_metrics-asan

integration: all ## integration tests through nginx on :9999 (starts its own stack)
	scripts/integration.sh $(BUILD)/rinha-api

integration-asan: asan ## the same suite against the sanitizer build
	scripts/integration.sh $(BUILD)/rinha-api-asan

# Components add their tests of the bank (mk/*.mk) with `TEST_EXTRA += target`;
# checks of the tooling itself go to `CHECK_TOOLS` (mk/check-tools.mk).
TEST_EXTRA :=

test: deps ## the bank's tests: format, lint, unit, integration (plain + sanitizer), compose-check, faults-quick, fuzz-quick, metrics-test, observe-check
	$(MAKE) format-check lint unit integration integration-asan $(TEST_EXTRA)

lint: ## cppcheck and clang-tidy (.clang-tidy) over the C sources
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	  --std=c11 --inline-suppr -I$(SRC_DIR) $(SRCS) api/tests/*.c $(DB_SRCS)
	clang-tidy --quiet $(SRCS) api/tests/*.c api/fuzz/*.c -- $(CSTD) $(DEFS) $(PKG_CFLAGS) -I$(SRC_DIR)
	clang-tidy --quiet $(DB_SRCS) -- $(CSTD) -D_GNU_SOURCE -isystem $(PG_SERVER_INC)

format: ## clang-format the C sources in place
	clang-format -i $(C_FILES)

format-check: ## fail if a C file is not clang-formatted
	clang-format --dry-run --Werror $(C_FILES)

clean: ## remove build outputs and the local database folder
	rm -rf $(BUILD) var

# Each further component keeps its targets in its own file.
-include $(sort $(wildcard mk/*.mk))

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'
