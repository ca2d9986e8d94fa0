# Observability: Prometheus and the exporters beside the native stack
# (observe/), and the metrics suite (tests/metrics).
OBSERVE_PKGS := prometheus prometheus-nginx-exporter prometheus-postgres-exporter

.PHONY: observe metrics-test observe-check observe-compose-test

observe: ## Prometheus (127.0.0.1:9090) + nginx/PostgreSQL exporters beside a running stack; Ctrl-C stops (OBSERVE_FOR=secs: by itself)
	scripts/deps.sh --only $(OBSERVE_PKGS)
	observe/observe.sh $(if $(OBSERVE_FOR),--for $(OBSERVE_FOR))

metrics-test: all ## metrics suite on a fresh stack: exposition, counters vs traffic and PostgreSQL, Prometheus query, bad scrapes, outage
	scripts/deps.sh --only $(OBSERVE_PKGS) python3-prometheus-client
	SUITE=tests/metrics scripts/integration.sh $(BUILD)/rinha-api -s

# Cheap checks of the configurations (no stack, no engine); compose.yml
# alone, the submission, has no observe service.
observe-check: ## promtool check config observe/prometheus.yml; the compose observe override validates
	scripts/deps.sh --only $(OBSERVE_PKGS) docker-compose
	promtool check config observe/prometheus.yml
	docker-compose -f compose.yml -f observe/compose.yml --profile observe config -q
	! grep -q 'profiles:' compose.yml

TEST_EXTRA += metrics-test observe-check

observe-compose-test: ## compose.yml + observe/compose.yml (profile observe) in the private dockerd: Prometheus sees every target (~2 min cached)
	scripts/compose-test.sh observe
