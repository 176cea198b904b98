/** Every storage port over one dialect, as one Context. */
import {
  AccessTokenStore,
  AuthorizationCodeStore,
  ClientStore,
  DeviceCodeStore,
  GnapGrantStore,
  GnapResourceStore,
  GrantStore,
  InteractionStore,
  KeyStore,
  RateLimiter,
  RefreshTokenStore,
  ReplayCache,
  UserCodeStore
} from "@gatehouse/core"
import { Context } from "effect"
import type { Dialect } from "../dialect.js"
import { makeAccessTokenStore } from "./AccessTokenStore.js"
import { makeAuthorizationCodeStore } from "./AuthorizationCodeStore.js"
import { makeClientStore } from "./ClientStore.js"
import { makeDeviceCodeStore } from "./DeviceCodeStore.js"
import { makeUserCodeStore } from "./UserCodeStore.js"
import { makeRateLimiter } from "./RateLimiter.js"
import { makeGnapGrantStore } from "./GnapGrantStore.js"
import { makeGnapResourceStore } from "./GnapResourceStore.js"
import { makeGrantStore } from "./GrantStore.js"
import { makeInteractionStore } from "./InteractionStore.js"
import { makeKeyStore } from "./KeyStore.js"
import { makeRefreshTokenStore } from "./RefreshTokenStore.js"
import { makeReplayCache } from "./ReplayCache.js"

/** Every storage port: what `DrizzleStorage.sqlite` / `.postgres` provide. */
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
  | RateLimiter
  | GnapGrantStore
  | GnapResourceStore

export const makeStorageContext = (d: Dialect): Context.Context<StoragePorts> =>
  Context.make(ClientStore, makeClientStore(d)).pipe(
    Context.add(AuthorizationCodeStore, makeAuthorizationCodeStore(d)),
    Context.add(RefreshTokenStore, makeRefreshTokenStore(d)),
    Context.add(AccessTokenStore, makeAccessTokenStore(d)),
    Context.add(GrantStore, makeGrantStore(d)),
    Context.add(InteractionStore, makeInteractionStore(d)),
    Context.add(ReplayCache, makeReplayCache(d)),
    Context.add(KeyStore, makeKeyStore(d)),
    Context.add(DeviceCodeStore, makeDeviceCodeStore(d)),
    Context.add(UserCodeStore, makeUserCodeStore(d)),
    Context.add(RateLimiter, makeRateLimiter(d)),
    Context.add(GnapGrantStore, makeGnapGrantStore(d)),
    Context.add(GnapResourceStore, makeGnapResourceStore(d))
  )
