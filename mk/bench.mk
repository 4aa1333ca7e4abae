# mk/bench.mk: the benchmark suite, included by the top-level Makefile.
#   make bench          build, install the comparison systems (nginx + nchan,
#                       redis-server, phpredis, gnuplot) and run bench/run.sh;
#                       results in build/bench/, the report in docs/BENCHMARKS.md
#                       (about 45 minutes on the 2-core machines).
#   make bench-build    only build the load generator.
#   make bench-like     only the like-for-like fan-out and fixed-rate tables
#                       (about 15 minutes), then the report.
# Not part of `make test`. BENCH_ARGS is passed to bench/run.sh (--quick, --only ...).

BENCH_BUILD := $(BUILD)/bench
BENCH_ARGS  ?=

.PHONY: bench-build bench-deps bench-like

bench-build: $(BENCH_BUILD)/loadgen

$(BENCH_BUILD)/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O2 -g -std=c11 $(WARN) -o $@ $<

bench-deps:
	@bench/install-deps.sh

BENCH_SCALE  := build/bench/results-scale:Scale: 18k on one relay, 100k on six relays (pinned: all relays on core 0)
BENCH_SPREAD := build/bench/results-spread:Scale: 100k on six relays, both cores shared (SRV_CPU=0,1 GEN_CPU=0,1)
BENCH_CLUSTER := build/bench/results-cluster:Scale: six relays joined through Redis (cluster mode), one publish to relay 0 (pinned: relays on core 0)
BENCH_CLUSTER_SPREAD := build/bench/results-cluster-spread:Scale: six relays joined through Redis, both cores shared (SRV_CPU=0,1 GEN_CPU=0,1)

# The main run (every scenario; each system back to back: Herald with
# --workers 1 and 2 and nchan with 1 and 2 workers, all published to by the
# same closed-loop `loadgen pub`, N workers on N cores; then Herald's own PHP
# path, sse_emit(), apart: bench/run.sh's head), then
# Herald alone at 18k on one relay and 100k on six, pinned and on both cores,
# then the same with the relays joined through Redis (cluster mode);
# report.py writes docs/BENCHMARKS.md's generated section and the chart.
bench: bench-deps all bench-build
	bench/run.sh --no-report $(BENCH_ARGS)
	bench/run.sh --no-report --only scale --reps 3 --out build/bench/results-scale
	SRV_CPU=0,1 GEN_CPU=0,1 bench/run.sh --no-report --only scale --reps 3 --out build/bench/results-spread
	bench/run.sh --no-report --only cluster --reps 3 --out build/bench/results-cluster
	SRV_CPU=0,1 GEN_CPU=0,1 bench/run.sh --no-report --only cluster --reps 3 --out build/bench/results-cluster-spread
	python3 bench/report.py build/bench/results --extra "$(BENCH_SCALE)" --extra "$(BENCH_SPREAD)" \
		--extra "$(BENCH_CLUSTER)" --extra "$(BENCH_CLUSTER_SPREAD)"

# What docs/BENCHMARKS.md's "like with like" section was generated from.
bench-like: bench-deps all bench-build
	bench/run.sh --no-report --only fanout,fanout-ws,rate --reps 3 --out build/bench/results $(BENCH_ARGS)
	python3 bench/report.py build/bench/results

# The JSON check's cost on the publish path (bench/json_check_cost.c): a
# few seconds, no dependencies beyond the relay's own.
.PHONY: bench-json
bench-json: $(BENCH_BUILD)/json_check_cost
	$(BENCH_BUILD)/json_check_cost
$(BENCH_BUILD)/json_check_cost: bench/json_check_cost.c $(BUILD)/obj/codec/json_check.o $(BUILD)/obj/base/utf8.o
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O2 -g $(HR_CFLAGS) -o $@ $^ $(PKG_LIBS)
