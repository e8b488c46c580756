# Shortcuts for the scripts (README.md gives the scripts themselves, which need nothing
# but bash on a fresh Debian 12 machine):
#   make run    = ./scripts/run     make test = ./scripts/test     make bench

.PHONY: run test bench format clean

run:
	@./scripts/run

test:
	@./scripts/test

bench:
	@./scripts/bootstrap && ./scripts/build build release && build/benchmarks/outpost_micro_bench && \
	  build/benchmarks/outpost_c_api_bench

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf build build-asan build-tsan
