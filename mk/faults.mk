# Reliability: faults, overload and hostile input (tests/faults).
.PHONY: faults faults-quick

faults: asan ## kill a replica, restart/crash PostgreSQL, overload, hostile input; ledger check after each
	FAULTS_SCALE=1 scripts/faults.sh

faults-quick: asan ## the same scenarios, shortened (part of make test)
	FAULTS_SCALE=0.3 scripts/faults.sh

TEST_EXTRA += faults-quick
