import { buildApp } from "./app";

export { RateLimiter } from "./services/rate-limiter";
export { RoomObject } from "./rooms/room-object";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
