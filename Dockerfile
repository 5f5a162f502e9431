# syntax=docker/dockerfile:1
# The tokenwell image: the agent as its entrypoint, the injector
# (tokenwell-injector, the admission webhook; the chart runs it with
# `command`), plus the `tokenwell` CLI, libtokenwell and its headers under
# /usr/local so an application image can
#   COPY --from=tokenwell /usr/local/lib/libtokenwell.so.0* /usr/local/lib/
#   COPY --from=tokenwell /usr/local/include/tokenwell /usr/local/include/tokenwell
#   COPY --from=tokenwell /usr/local/bin/tokenwell /usr/local/bin/
#
#   podman build -t tokenwell .            (or docker build)
#   scripts/image-check.sh                 builds it here from a debootstrap base and runs it (CI does)
#
# Stage 1 builds only what the image ships -- the libraries, the agent, the
# injector and the CLI; no tests, benchmarks or examples (CI runs those
# against the same sources) -- with warnings as errors, then runs each
# program once. A ccache cache mount keeps rebuilds of an unchanged file
# cheap. Stage 2 is bookworm-slim with only the shared libraries the
# programs link (see `ldd`), nothing to compile with and no shell tools
# beyond the base.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The build's part of scripts/install-deps.sh: compilers and the libraries
# the shipped programs use; no test frameworks, servers or hiredis.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config ccache \
      libssl-dev libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev \
      libspdlog-dev libboost-dev ca-certificates \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release at -O2, the optimisation level CI's warnings-as-errors build uses:
# GCC 12 at -O3 reports a false -Wrestrict inside libstdc++'s string
# concatenation (GCC bug 105329) in agent/src/common/log.cpp.
ARG JOBS=2
RUN --mount=type=cache,target=/root/.cache/ccache,id=tokenwell-ccache \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKENWELL_WERROR=ON \
      -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
      -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
      -DTOKENWELL_BUILD_TESTS=OFF -DTOKENWELL_BUILD_BENCH=OFF -DTOKENWELL_BUILD_EXAMPLES=OFF \
 && cmake --build /build -j"$JOBS" \
 && DESTDIR=/out cmake --install /build --prefix /usr/local --strip
# A smoke test of what was built; the behaviour is tested in CI and by
# scripts/image-check.sh on the final image.
RUN LD_LIBRARY_PATH=/out/usr/local/lib /out/usr/local/bin/tokenwell-agent --version \
 && LD_LIBRARY_PATH=/out/usr/local/lib /out/usr/local/bin/tokenwell-injector --version \
 && LD_LIBRARY_PATH=/out/usr/local/lib /out/usr/local/bin/tokenwell --help >/dev/null

FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tokenwell" \
      org.opencontainers.image.description="Kubernetes sidecar credential agent with a shared-memory token cache, and its injector" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim" \
      org.opencontainers.image.documentation="docs/kubernetes.md"
ENV DEBIAN_FRONTEND=noninteractive
# libcurl4 (HTTPS to the IdP), libssl3 (JWT, assertions, the injector's
# TLS), prometheus-cpp's core (metrics exposition), spdlog + fmt (JSON logs);
# ca-certificates so TLS to login.microsoftonline.com verifies.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libcurl4 libssl3 libprometheus-cpp-core1.0 libspdlog1.10 libfmt9 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin \
 && groupadd --system --gid 65532 tokenwell \
 && useradd --system --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin tokenwell \
 && install -d -o 65532 -g 65532 -m 0750 /run/tokenwell
COPY --from=build /out/usr/local/ /usr/local/
RUN ldconfig
ENV TOKENWELL_DIR=/run/tokenwell
USER 65532:65532
# The agent's TCP listener (/metrics, /healthz, /readyz; never a secret);
# the injector's HTTPS port (/mutate, /healthz, /readyz, /metrics).
EXPOSE 9464 8443
ENTRYPOINT ["/usr/local/bin/tokenwell-agent"]
CMD ["--config", "/etc/tokenwell/agent.json"]
