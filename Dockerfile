# syntax=docker/dockerfile:1

# ---- build: compile TypeScript to dist/ ----
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig*.json ./
COPY src ./src
COPY config ./config
# npm run build also copies the SQL migrations next to the compiled code.
RUN npm run build

# ---- runtime: production deps + compiled output ----
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production HOST=0.0.0.0 PORT=3000 HUB_DATA_DIR=/data
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config ./config
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Role is passed as arguments, e.g. `docker run IMAGE --role worker`. The heap limit is sized to the
# hub, not to the host (HUB_MAX_HEAP_MB, as in `npm start`); the shell only expands it.
ENTRYPOINT ["sh", "-c", "exec node --max-old-space-size=${HUB_MAX_HEAP_MB:-512} dist/main.js \"$@\"", "--"]
CMD ["--role", "api"]
