# mk/bench.mk: the benchmark suite, included by the top-level Makefile.
#   make bench          build, install the comparison systems (nginx + nchan,
#                       redis-server, phpredis, gnuplot) and run bench/run.sh;
#                       results in build/bench/, the report in docs/BENCHMARKS.md.
#   make bench-build    only build the load generator.
# Not part of `make test`. BENCH_ARGS is passed to bench/run.sh (--quick, --only ...).

BENCH_BUILD := $(BUILD)/bench
BENCH_ARGS  ?=

.PHONY: bench-build bench-deps

bench-build: $(BENCH_BUILD)/loadgen

$(BENCH_BUILD)/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	@echo "  CC    $@"
	@$(CC) -O2 -g -std=c11 $(WARN) -o $@ $<

bench-deps:
	@bench/install-deps.sh

bench: bench-deps all bench-build
	@bench/run.sh $(BENCH_ARGS)
