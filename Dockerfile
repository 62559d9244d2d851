# CPU image on Debian 12 with everything built from this tree. The GPU build uses the same CMake
# files against CUDA libtorch (tools/device/build.sh).
FROM debian:12
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-venv.sh scripts/python-requirements.txt scripts/
RUN bash scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN bash scripts/build.sh medgemma-cli medgemma-server medgemma-trainer \
 && install -m 0755 build/bin/medgemma-cli build/bin/medgemma-server build/bin/medgemma-trainer /usr/local/bin/ \
 && mkdir -p /etc/medgemma && cp -r config/. /etc/medgemma/
RUN useradd --system --home /var/lib/medgemma medgemma && mkdir -p /var/lib/medgemma && chown medgemma /var/lib/medgemma
USER medgemma
ENTRYPOINT ["medgemma-cli"]
