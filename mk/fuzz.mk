# Fuzzing the request router, parser and validator with libFuzzer (clang).
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_BIN := $(BUILD)/fuzz_request

.PHONY: fuzz fuzz-quick

$(FUZZ_BIN): api/fuzz/fuzz_request.c $(SRC_DIR)/request.c $(SRC_DIR)/request.h mk/fuzz.mk | $(BUILD)
	$(FUZZ_CC) $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  $(WARN) -I$(SRC_DIR) api/fuzz/fuzz_request.c $(SRC_DIR)/request.c -o $@ $(shell pkg-config --cflags --libs jansson)

fuzz: $(FUZZ_BIN) ## fuzz the router/parser/validator for FUZZ_SECONDS (default 60); new inputs go to var/fuzz-corpus
	mkdir -p var/fuzz-corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -timeout=5 -rss_limit_mb=1024 \
	  var/fuzz-corpus api/fuzz/corpus

fuzz-quick: ## a 15-second fuzz run (part of make test)
	$(MAKE) fuzz FUZZ_SECONDS=15

TEST_EXTRA += fuzz-quick
