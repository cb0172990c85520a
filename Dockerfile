# sierradb-ts server image.
#
#   docker build -t sierradb-ts .
#   docker run -p 9090:9090 -v ./data:/app/data sierradb-ts
#   docker run -p 9090:9090 sierradb-ts --bucket-count 8 --requirepass s3cret     (flags after the image name)
#
# Data lives in the /app/data volume; the server runs as the unprivileged `node` user (uid 1000), so a host
# directory mounted there must be writable by uid 1000. tini is PID 1: it forwards SIGTERM/SIGINT to the server,
# which then finishes in-flight appends and closes cleanly (`docker stop` waits 10 s by default, as does
# shutdown.timeout_ms; use `docker stop -t 30` with a longer shutdown timeout). Configuration: flags, SIERRA_*
# variables (`-e SIERRA_PARTITION_COUNT=64`) or a TOML file (`-v ./sierra.toml:/app/sierra.toml`).

# Dependencies, with a toolchain for the native CRC32C module in case no prebuilt binary fits.
FROM node:24-bookworm-slim AS deps
WORKDIR /app
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24-bookworm-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production \
    SIERRA_DIR=/app/data \
    SIERRA_NETWORK_CLIENT_ADDRESS=0.0.0.0:9090 \
    SIERRA_LOG_FORMAT=json
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY src ./src
COPY workers ./workers
COPY native-free-io ./native-free-io
COPY config ./config
RUN mkdir -p /app/data && chown node:node /app/data /app
USER node
VOLUME ["/app/data"]
EXPOSE 9090
# Alive when the port answers PING (+PONG, or -NOAUTH when a password is set).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "const s=require('node:net').connect(9090,'127.0.0.1',()=>s.write('PING\\r\\n'));s.on('data',(d)=>process.exit(/^(\\+PONG|-NOAUTH)/.test(String(d))?0:1));s.on('error',()=>process.exit(1));setTimeout(()=>process.exit(1),2000)"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--v8-pool-size=1", "--max-semi-space-size=16", "src/cli/main.ts"]
CMD []
