# The tokenwell image: the agent as its entrypoint, plus the `tokenwell` CLI,
# libtokenwell and its headers under /usr/local so an application image can
#   COPY --from=tokenwell /usr/local/lib/libtokenwell.so.0* /usr/local/lib/
#   COPY --from=tokenwell /usr/local/include/tokenwell /usr/local/include/tokenwell
#   COPY --from=tokenwell /usr/local/bin/tokenwell /usr/local/bin/
#
#   podman build -t tokenwell .            (or docker build)
#   scripts/image-check.sh                 builds it here from a debootstrap base and runs it
#
# Stage 1 builds with warnings as errors and runs the unit tests, so an image
# only exists for a tree whose unit tests pass. Stage 2 is bookworm-slim with
# only the shared libraries the two programs link (see `ldd`), nothing to
# compile with and no shell tools beyond the base.

FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
# The build's half of scripts/install-deps.sh: no servers, no sanitizer runtimes,
# no benchmark library (the image does not build bench/).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libssl-dev libcurl4-openssl-dev nlohmann-json3-dev prometheus-cpp-dev \
      libspdlog-dev libboost-dev libgtest-dev libgmock-dev \
      ca-certificates openssl python3 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Release at -O2, the optimisation level CI's warnings-as-errors build uses:
# GCC 12 at -O3 reports a false -Wrestrict inside libstdc++'s string
# concatenation (GCC bug 105329) in agent/src/common/log.cpp.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTOKENWELL_WERROR=ON \
      -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" \
      -DTOKENWELL_BUILD_TESTS=ON -DTOKENWELL_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)"
# Unit tests only: integration suites need servers (redis-server, the Entra
# stand-in) and run in CI (scripts/test.sh), not in an image build.
RUN ctest --test-dir /build -L unit --output-on-failure -j"$(nproc)"
RUN DESTDIR=/out cmake --install /build --prefix /usr/local --strip

FROM debian:bookworm-slim
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="tokenwell" \
      org.opencontainers.image.description="Kubernetes sidecar credential agent with a shared-memory token cache" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim" \
      org.opencontainers.image.documentation="docs/kubernetes.md"
ENV DEBIAN_FRONTEND=noninteractive
# libcurl4 (HTTPS to the IdP), libssl3 (JWT and assertions), prometheus-cpp's
# core (metrics exposition), spdlog + fmt (JSON logs); ca-certificates so TLS
# to login.microsoftonline.com verifies.
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
# The TCP listener (/metrics, /healthz, /readyz); never a secret.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/tokenwell-agent"]
CMD ["--config", "/etc/tokenwell/agent.json"]
