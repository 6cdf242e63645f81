# Build: the production profile (release with fat LTO, see Cargo.toml), profile-guided: built
# instrumented, run on the fixture calls, built again with their profile (deploy/pgo-build.sh,
# about 33 min on 2 cores). Run: a slim image with the binary and the knowledge files.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# The manifest names these (a benchmark, the load test's baseline member); they are not built.
COPY benches ./benches
COPY bench/baseline ./bench/baseline
# The training run serves the fixture calls with the knowledge files.
COPY cds-services ./cds-services
COPY fixtures/cases.json ./fixtures/cases.json
COPY fixtures/requests ./fixtures/requests
COPY deploy/pgo-build.sh ./deploy/pgo-build.sh
RUN deploy/pgo-build.sh

FROM debian:bookworm-slim
# CA certificates: the HTTPS calls to the EHR's FHIR server (and JWKS URLs) verify against them.
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/*
RUN useradd --system --home /data atcds && mkdir -p /data && chown atcds /data
COPY --from=build /src/target/pgo/advanced-therapy-cds /usr/local/bin/advanced-therapy-cds
COPY cds-services /opt/advanced-therapy-cds/cds-services
USER atcds
ENV ATCDS_KNOWLEDGE_DIR=/opt/advanced-therapy-cds/cds-services \
    ATCDS_DATA_DIR=/data \
    ATCDS_BIND=0.0.0.0:8080 \
    ATCDS_LOG_FORMAT=json
VOLUME /data
EXPOSE 8080
ENTRYPOINT ["advanced-therapy-cds"]
CMD ["serve"]
