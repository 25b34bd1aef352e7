# syntax=docker/dockerfile:1
#
# Build image: Debian bookworm with Rust, the host packages of the toolchain
# build, and this repository; running it builds (or updates) the patched
# aarch64-linux-gnu split-stack toolchain into the /cache volume.
#
#   docker build -f docker/build.Dockerfile -t split-stack-build .
#   docker run --rm -v split-stack-cache:/cache split-stack-build
#   docker run --rm -v split-stack-cache:/cache split-stack-build cargo xtask conformance
#
# Every RUN and CMD here is a `cargo xtask` command that `cargo xtask test`
# also runs on the host (checked by `cargo xtask docker-lint`); see
# docker/README.md for what was and was not executed.
FROM docker.io/library/rust:1.95-bookworm

# The toolchain cache (sources, build trees, ccache, the installed
# toolchain) lives on a volume so that containers reuse it.
ENV XDG_CACHE_HOME=/cache
VOLUME ["/cache"]

WORKDIR /src
COPY . /src

# Debian host packages (cross bootstrap compiler, qemu-user, flex, ...),
# from the same list the build checks (xtask/src/base/hostdeps.rs).
RUN cargo xtask host-deps

CMD ["cargo", "xtask", "build-toolchain"]
