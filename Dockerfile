# medgemma-serve images, built from this repository alone:
#   docker build -t medgemma-serve:cuda .                        CUDA (default): needs the NVIDIA container runtime
#   docker build -t medgemma-serve:cpu --build-arg VARIANT=cpu .  CPU-only libtorch, ~3 GB smaller
# Pass --build-arg COMMIT=$(git rev-parse --short HEAD) for --version and medgemma_build_info (the
# build context has no .git). Every RUN step is a script that ctest runs on the host too
# (tests/deploy/image_steps_test.sh). One image serves medgemma-server (the default command),
# medgemma-trainer and medgemma-cli.
ARG VARIANT=cuda

FROM debian:12 AS build
ARG VARIANT
ARG COMMIT=unknown
WORKDIR /src
# Dependencies first, in their own layers: a source change does not reinstall them.
COPY scripts/install-deps.sh scripts/install-venv.sh scripts/python-requirements.txt scripts/
COPY deploy/image/install-build-deps.sh deploy/image/install-cuda-toolkit.sh \
     deploy/image/cuda-compiler-requirements.txt deploy/image/
RUN bash deploy/image/install-build-deps.sh "$VARIANT" && rm -rf /var/lib/apt/lists/* /root/.cache/pip
ENV PATH=/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY . .
# The cuda variant fails here, rather than building without its CUDA kernels, when nvcc is missing.
RUN MEDGEMMA_GIT_COMMIT="$COMMIT" MEDGEMMA_REQUIRE_CUDA="$([ "$VARIANT" = cuda ] && echo ON || echo OFF)" \
    bash scripts/build.sh medgemma-server medgemma-trainer medgemma-cli
RUN bash deploy/image/stage-runtime.sh "$VARIANT" build/bin /stage

FROM debian:12-slim AS runtime
ARG VARIANT
LABEL org.opencontainers.image.title="medgemma-serve" \
      org.opencontainers.image.description="MedGemma histopathology classifier: medgemma-server, medgemma-trainer, medgemma-cli" \
      io.medgemma.variant="$VARIANT"
COPY --from=build /stage/opt/medgemma /opt/medgemma
COPY --from=build /stage/etc/medgemma /etc/medgemma
# State and secrets belong to the service user, which runs with no entry in /etc/passwd: a numeric
# uid is what Kubernetes' runAsNonRoot can verify.
COPY --from=build --chown=10001:10001 /stage/var/lib/medgemma /var/lib/medgemma
COPY --from=build --chown=10001:10001 /stage/run/secrets/medgemma /run/secrets/medgemma
ENV PATH=/opt/medgemma/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LD_LIBRARY_PATH=/opt/medgemma/lib \
    DCMDICTPATH=/opt/medgemma/share/dcmtk/dicom.dic:/opt/medgemma/share/dcmtk/private.dic \
    HOME=/tmp \
    NVIDIA_VISIBLE_DEVICES=all \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility \
    MEDGEMMA_HEALTH_ADDRESS=127.0.0.1:8501
USER 10001:10001
WORKDIR /var/lib/medgemma
# medgemma-server: 8500 clients' gRPC, 8502 admin gRPC, 8501 plaintext health, 9500 metrics;
# medgemma-trainer: 8600 gRPC, 8601 health, 9600 metrics (config/container).
EXPOSE 8500 8501 8502 9500 8600 8601 9600
# grpc.health.v1 on the health-only port (plaintext even when the API port serves TLS). The trainer
# sets MEDGEMMA_HEALTH_ADDRESS=127.0.0.1:8601. Loading the 4B model takes minutes: a long start period.
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s --retries=3 \
  CMD medgemma-cli health --server "$MEDGEMMA_HEALTH_ADDRESS" --timeout-seconds 5 || exit 1
CMD ["medgemma-server", "--config", "/etc/medgemma/server.yaml"]
