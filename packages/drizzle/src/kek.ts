/**
 * Private signing keys at rest: AES-256-GCM under a key-encryption key (KEK).
 *
 * The KEK comes from, in order:
 * 1. the `kek` option: 32 raw bytes (a `Uint8Array`), or a string. A string that is the
 *    base64url encoding of exactly 32 bytes (43 characters, e.g. from
 *    `node -e "console.log(crypto.randomBytes(32).toString('base64url'))"`) is used as is;
 *    any other string is run through HKDF-SHA256 (salt "gatehouse-kek", info "v1") to
 *    32 bytes.
 * 2. the `GATEHOUSE_KEK` environment variable, read the same way;
 * 3. SQLite only: a file `<database path>.kek` (mode 0600) holding a random KEK, created
 *    once by the first process and read by the others. Postgres has no such fallback:
 *    without a KEK the layer fails with a message naming GATEHOUSE_KEK.
 *
 * > [!WARNING]
 * > HKDF is not a password hash: a short or guessable passphrase gives a guessable KEK.
 * > Use 32 random bytes. The generated `.kek` file protects the keys against a leaked
 * > database file only while the `.kek` file itself does not leak with it (back them up
 * > separately).
 *
 * Ciphertext format (text column): `v1.<iv base64url>.<ciphertext||tag base64url>`, with the
 * key's `kid` as additional authenticated data, so a ciphertext moved to another row does
 * not decrypt.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto"
import * as fs from "node:fs"

export type KekInput = string | Uint8Array

/** A 32-byte AES-256-GCM key-encryption key. */
export interface Kek {
  readonly encrypt: (plaintext: string, kid: string) => string
  /** throws when the ciphertext was not made with this KEK (or was tampered with) */
  readonly decrypt: (ciphertext: string, kid: string) => string
}

const KEY_BYTES = 32
const IV_BYTES = 12
const TAG_BYTES = 16

/** The 32 key bytes for a `kek` option or `GATEHOUSE_KEK` value (see the file header). */
export const kekBytes = (input: KekInput): Uint8Array => {
  if (typeof input !== "string") {
    if (input.byteLength !== KEY_BYTES) throw new TypeError(`"kek" must be ${KEY_BYTES} bytes, got ${input.byteLength}`)
    return input
  }
  if (input.length === 0) throw new TypeError(`"kek" must not be empty`)
  if (/^[A-Za-z0-9_-]{43}$/.test(input)) {
    const raw = Buffer.from(input, "base64url")
    if (raw.byteLength === KEY_BYTES) return raw
  }
  return new Uint8Array(hkdfSync("sha256", input, "gatehouse-kek", "v1", KEY_BYTES))
}

export const makeKek = (input: KekInput): Kek => {
  const key = kekBytes(input)
  return {
    encrypt: (plaintext, kid) => {
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv("aes-256-gcm", key, iv)
      cipher.setAAD(Buffer.from(kid, "utf8"))
      const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final(), cipher.getAuthTag()])
      return `v1.${iv.toString("base64url")}.${body.toString("base64url")}`
    },
    decrypt: (ciphertext, kid) => {
      const [version, iv, body] = ciphertext.split(".")
      if (version !== "v1" || iv === undefined || body === undefined) {
        throw new Error(`private key of kid "${kid}" is not in the v1 encrypted format`)
      }
      const bytes = Buffer.from(body, "base64url")
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"))
      decipher.setAAD(Buffer.from(kid, "utf8"))
      decipher.setAuthTag(bytes.subarray(bytes.byteLength - TAG_BYTES))
      try {
        return Buffer.concat([decipher.update(bytes.subarray(0, bytes.byteLength - TAG_BYTES)), decipher.final()])
          .toString("utf8")
      } catch {
        throw new Error(
          `cannot decrypt the private key of kid "${kid}": the key-encryption key (kek option / GATEHOUSE_KEK) ` +
            `is not the one it was stored with`
        )
      }
    }
  }
}

/** The KEK from the option, else from `GATEHOUSE_KEK`, else undefined. */
export const configuredKek = (option: KekInput | undefined): Kek | undefined => {
  if (option !== undefined) return makeKek(option)
  const env = process.env["GATEHOUSE_KEK"]
  return env !== undefined && env !== "" ? makeKek(env) : undefined
}

/**
 * SQLite fallback: read `<dbPath>.kek`, or create it (mode 0600) with 32 random bytes.
 * Creation is atomic (written to a temporary file, then hard-linked into place), so of
 * several processes starting at once exactly one creates it and all read the same KEK.
 */
export const fileKek = (dbPath: string): Kek => {
  const path = `${dbPath}.kek`
  const read = () => makeKek(fs.readFileSync(path, "utf8").trim())
  if (fs.existsSync(path)) return read()
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`
  const fd = fs.openSync(tmp, "wx", 0o600)
  try {
    fs.writeSync(fd, `${randomBytes(KEY_BYTES).toString("base64url")}\n`)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
  try {
    fs.linkSync(tmp, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
  } finally {
    fs.rmSync(tmp, { force: true })
  }
  return read()
}
