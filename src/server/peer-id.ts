/**
 * A libp2p PeerId for this process, as SierraDB's HELLO reports one (`peer_id`, e.g. `12D3KooW...`). SierraDB makes a
 * fresh Ed25519 keypair at every start (`main.rs`), so the id changes on restart; so does ours.
 *
 * Hand-rolled with node:crypto instead of pulling libp2p in (libp2p peer-ids spec, "Peer Ids and Keys"):
 *
 *   PublicKey protobuf  = 08 01            field 1 (Type), varint 1 = Ed25519
 *                         12 20 <32 bytes>  field 2 (Data), length 32, the raw public key
 *   identity multihash  = 00 24 <the 36 protobuf bytes>      (code 0x00 identity, length 36; keys ≤ 42 bytes are
 *                                                             not hashed)
 *   PeerId string       = base58btc(multihash), no multibase prefix: every Ed25519 id starts with `12D3KooW`.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';

const BASE58_ALPHABET = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';

/** Bitcoin's base58 (the alphabet without 0, O, I, l); each leading zero byte becomes a '1'. */
export function base58btc(bytes: Uint8Array): string {
  let zeros = 0;
  while (zeros < bytes.length && bytes[zeros] === 0) zeros++;
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  let out = '';
  while (n > 0n) {
    out = BASE58_ALPHABET[Number(n % 58n)] + out;
    n /= 58n;
  }
  return '1'.repeat(zeros) + out;
}

/** The PeerId string of a raw 32-byte Ed25519 public key. */
export function peerIdFromEd25519PublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== 32) throw new RangeError(`an Ed25519 public key has 32 bytes, got ${publicKey.length}`);
  const multihash = Buffer.alloc(38);
  multihash.set([0x00, 0x24, 0x08, 0x01, 0x12, 0x20], 0);
  multihash.set(publicKey, 6);
  return base58btc(multihash);
}

/** The raw 32 bytes of an Ed25519 public key object (the JWK `x` member is exactly that, base64url). */
function rawEd25519PublicKey(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.x === undefined) throw new Error('not an Ed25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

/** A new random Ed25519 identity (the private key is not kept: nothing signs with it yet). */
export function generatePeerId(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  return peerIdFromEd25519PublicKey(rawEd25519PublicKey(publicKey));
}
