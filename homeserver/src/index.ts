import { buildApp } from "./app";

export { RateLimiter } from "./services/rate-limiter";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
