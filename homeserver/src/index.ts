import { buildApp } from "./app";

export { RateLimiter } from "./services/rate-limiter";
export { RoomObject } from "./rooms/room-object";
export { AppserviceQueue } from "./appservice/queue";
export { SyncNotifier } from "./sync/notifier";
export { UserKeys } from "./e2ee/user-keys";
export { PortalObject, DiscordGatewayObject, SlackBridgeObject } from "../../bridges";

const app = buildApp();

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
