# The two commands a newcomer needs (README.md):
#   make run    build, start outpost-server on the embedded store, run the device demo
#   make test   build (release and ASan/UBSan) and run every test
# Both install their Debian packages first (scripts/bootstrap, idempotent).

JOBS ?= $(shell nproc)
BUILD ?= build
BUILD_ASAN ?= build-asan

.PHONY: run test build build-asan bootstrap format bench clean

bootstrap:
	@./scripts/bootstrap

build: bootstrap
	@cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

build-asan: bootstrap
	@cmake -S . -B $(BUILD_ASAN) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DOUTPOST_SANITIZE=ON -DOUTPOST_BENCHMARKS=OFF >/dev/null
	@cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	@./scripts/demo $(BUILD)

test: build build-asan
	@./scripts/test $(BUILD) $(BUILD_ASAN)

bench: build
	@$(BUILD)/benchmarks/outpost_micro_bench

format:
	@clang-format -i $$(git ls-files '*.cpp' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_ASAN)
