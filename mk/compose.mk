# The compose stack (compose.yml, */Dockerfile): checks, the full proof on
# this machine, and the folder for the official submission.
.PHONY: compose-check compose-test compose-run submission

compose-check: ## validate compose.yml (docker-compose config) and its limits against the 1.5 CPU / 550MB envelope
	scripts/compose-check.sh

compose-test: deps ## build the images and run the integration suite against the compose stack in a private loopback-only dockerd (root)
	scripts/compose-test.sh test

compose-run: deps ## the compose stack on :9999 until Ctrl-C (private dockerd, torn down after)
	scripts/compose-test.sh run

submission: ## write build/submission/<name>/ for participantes/ of the official repository
	scripts/compose-submission.sh

TEST_EXTRA += compose-check
