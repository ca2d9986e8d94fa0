# The tooling's own checks, apart from the bank's tests (`make test`):
# components add theirs with `CHECK_TOOLS += target` (k6 scripts and the
# benchmark's unit tests, the site's browser test, the workflows check).
.PHONY: check-tools

check-tools: deps ## the tooling's own checks: k6 scripts, bench unit tests, site browser test, workflows
	$(MAKE) $(CHECK_TOOLS)
