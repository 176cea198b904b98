/** Every service an endpoint may use: the ports plus core's own services. */
import type { Clients } from "./clients.js"
import type { GatehouseConfig } from "./config.js"
import type { AccessTokenStore } from "./ports/AccessTokenStore.js"
import type { Accounts } from "./ports/Accounts.js"
import type { AuthorizationCodeStore } from "./ports/AuthorizationCodeStore.js"
import type { ClientStore } from "./ports/ClientStore.js"
import type { Crypto } from "./ports/Crypto.js"
import type { DeviceCodeStore } from "./ports/DeviceCodeStore.js"
import type { UserCodeStore } from "./user-code/UserCodeStore.js"
import type { Events } from "./ports/Events.js"
import type { GnapGrantStore } from "./ports/GnapGrantStore.js"
import type { GnapResourceStore } from "./ports/GnapResourceStore.js"
import type { GrantStore } from "./ports/GrantStore.js"
import type { InteractionStore } from "./ports/InteractionStore.js"
import type { KeyStore } from "./ports/KeyStore.js"
import type { RateLimiter } from "./ports/RateLimiter.js"
import type { RefreshTokenStore } from "./ports/RefreshTokenStore.js"
import type { ReplayCache } from "./ports/ReplayCache.js"
import type { Keys } from "./tokens/keys.js"

/** The storage ports every storage adapter provides. */
export type StoragePorts =
  | ClientStore
  | AuthorizationCodeStore
  | RefreshTokenStore
  | AccessTokenStore
  | GrantStore
  | InteractionStore
  | ReplayCache
  | KeyStore
  | DeviceCodeStore
  | UserCodeStore
  | GnapGrantStore
  | GnapResourceStore
  | RateLimiter

export type GatehouseServices = StoragePorts | Accounts | Events | Crypto | GatehouseConfig | Keys | Clients
