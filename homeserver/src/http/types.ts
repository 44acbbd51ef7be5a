import type { Config } from "../config";

/** The authenticated requester, set by the auth middleware. */
export interface Requester {
  userId: string;
  deviceId: string;
  /** Hash of the access token used, so logout can revoke exactly it. */
  tokenHash: string;
  /** Set when the request used an application service's as_token (identity assertion). */
  appserviceId?: string;
}

export interface AppEnv {
  Bindings: Env;
  Variables: {
    config: Config;
    requester: Requester;
  };
}
