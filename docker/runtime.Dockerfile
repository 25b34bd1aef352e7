# syntax=docker/dockerfile:1
#
# Runtime image: a Debian bookworm arm64 userland (its own glibc 2.36 stays
# the system glibc) with the patched glibc installed beside it under
# /opt/split-stack-aarch64, and the launcher split-stack-run that starts
# programs against it.  Run it on an x86_64 host through binfmt_misc and
# qemu-user-static (Debian: apt-get install qemu-user-static binfmt-support):
#
#   docker build -f docker/runtime.Dockerfile --platform linux/arm64 -t split-stack-runtime .
#   docker run --rm --platform linux/arm64 -v "$PWD/out:/w" split-stack-runtime \
#       split-stack-run /w/program        # patched glibc
#   docker run --rm --platform linux/arm64 -v "$PWD/out:/w" split-stack-runtime \
#       /w/program                        # Debian's glibc: refused, GLIBC_2.44
#
# The layout is exactly the one `cargo xtask conformance --rootfs` builds and
# runs the suite in (xtask/src/env/rootfs.rs); the first stage runs on the build
# platform, so the toolchain is not built under emulation.
FROM --platform=$BUILDPLATFORM docker.io/library/rust:1.95-bookworm AS build
ENV XDG_CACHE_HOME=/cache
WORKDIR /src
COPY . /src
RUN cargo xtask host-deps
# install-glibc builds (or reuses, with a cache mount) the toolchain first.
RUN --mount=type=cache,target=/cache cargo xtask install-glibc /out/opt/split-stack-aarch64

FROM docker.io/library/debian:bookworm-slim
COPY --from=build /out/ /
ENV PATH=/opt/split-stack-aarch64/bin:$PATH
