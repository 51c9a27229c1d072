//! Every capacity in the core, in one place.
//!
//! The core allocates only where arkworks needs to (pairings) and never in
//! proportion to untrusted input beyond the bounds named here. Anything that
//! reads a length off the wire checks it against one of these constants first.

/// Largest drand `/info` JSON document accepted, in bytes.
///
/// Real documents are ~500 bytes; 16 KiB leaves room for metadata growth while
/// keeping a hostile file from costing more than a fixed, small parse.
pub const MAX_CHAIN_INFO_JSON_LEN: usize = 16 * 1024;

/// Deepest nesting of JSON arrays/objects accepted anywhere in the core.
///
/// serde-json-core skips unknown values recursively; bounding the depth before
/// parsing keeps that recursion (and so the stack) bounded too.
pub const MAX_JSON_DEPTH: usize = 16;

/// Longest drand beacon id (`metadata.beaconID`), in bytes.
pub const MAX_BEACON_ID_LEN: usize = 64;

/// Longest `previous_signature` of a chained beacon: a G2 signature (96 bytes).
/// Round 1 of a chained network uses the 32-byte genesis seed instead.
pub const MAX_PREVIOUS_SIGNATURE_LEN: usize = 96;

/// Size of a compressed G1 point (public key or signature), in bytes.
pub const G1_COMPRESSED_LEN: usize = 48;

/// Size of a compressed G2 point (public key or signature), in bytes.
pub const G2_COMPRESSED_LEN: usize = 96;

/// Largest age header veil writes (one tlock stanza, ~340 bytes): the
/// size of the fixed buffer it is written into.
pub const MAX_SEALED_HEADER_LEN: usize = 512;

/// Size of an age file key, the message the drand-flavour IBE seals.
pub const AGE_FILE_KEY_LEN: usize = 16;

/// Longest base64 body of a tlock stanza: the unpadded base64 of the
/// largest drand-flavour ciphertext (`U` in G2, then `V` and `W`, each a
/// file key long); a longer body cannot be one.
pub const MAX_TLOCK_STANZA_BODY_B64: usize =
    ((G2_COMPRESSED_LEN + 2 * AGE_FILE_KEY_LEN) * 4).div_ceil(3);

/// Largest age header accepted (version line, stanzas, MAC line), in bytes.
/// A tlock header is ~340 bytes; the bound leaves room for grease stanzas
/// while keeping the header read a fixed, small cost.
pub const MAX_AGE_HEADER_LEN: usize = 16 * 1024;

/// Plaintext bytes per age STREAM chunk (age v1: 64 KiB).
pub const AGE_CHUNK_LEN: usize = 64 * 1024;

/// Authentication tag of each STREAM chunk (ChaCha20-Poly1305).
pub const AGE_TAG_LEN: usize = 16;

/// Largest STREAM chunk on the wire: a full chunk of plaintext plus its tag.
pub const MAX_CHUNK_CIPHERTEXT_LEN: usize = AGE_CHUNK_LEN + AGE_TAG_LEN;

/// How much of an input the streaming format detection needs to see (the
/// age magic line, or the armor's BEGIN line).
pub const DETECT_PREFIX_LEN: usize = 64;

/// Longest ASCII-armor line veil reads (64 base64 characters, with room for
/// a CR and surrounding whitespace).
pub const MAX_ARMOR_LINE_LEN: usize = 128;

/// Largest raw TLE or bittensor ciphertext accepted, in bytes. These formats
/// are not streamed (AES-GCM over the whole body), so the shell must hold one
/// in memory; this is the cap it enforces before reading.
pub const MAX_TLE_LEN: usize = 256 * 1024 * 1024;

/// Longest message checked against the `<Bytes>…</Bytes>` wrapping that
/// bittensor_wallet and polkadot.js `signRaw` apply (the wrapped copy is the
/// one allocation of verification). Longer messages are checked as given only.
pub const MAX_WRAPPED_MESSAGE_LEN: usize = 64 * 1024;

/// Longest SS58 address text accepted (a 32-byte key with a two-byte prefix
/// is 49 characters).
pub const MAX_SS58_LEN: usize = 64;

/// Longest object key (S3's own limit).
pub const MAX_OBJECT_KEY_LEN: usize = 1024;

/// Longest single part of an object key (challenge id, file name, …).
pub const MAX_KEY_PART_LEN: usize = 256;

/// Most variation requests in one image request (MIID sends 5).
pub const MAX_VARIATION_REQUESTS: usize = 16;

/// Longest free text of an `ImageRequest` veil reads (a description, a
/// detail, the screen-replay instructions): MIID's are a few hundred bytes.
pub const MAX_FREE_TEXT_LEN: usize = 64 * 1024;

/// Longest text field of a screen-replay UAV checklist (a file name, a
/// camera's name).
pub const MAX_UAV_TEXT_LEN: usize = 256;

/// Longest signed MIID message (`challenge:{cid}:hash:{64 hex}`).
pub const MAX_MIID_MESSAGE_LEN: usize = 512;

/// Longest dendrite uuid accepted in the axon protocol (a uuid1 is 36).
pub const MAX_AXON_UUID_LEN: usize = 64;

/// Longest message an axon request signs: a u64 nonce (20 digits), two SS58
/// addresses, a uuid, a 64-hex body hash and four dots.
pub const MAX_AXON_MESSAGE_LEN: usize = 20 + 2 * MAX_SS58_LEN + MAX_AXON_UUID_LEN + 64 + 4;

/// Longest path (with its query) a btauth/1 request signs: veil's routes
/// are a synapse name.
pub const MAX_BTAUTH_PATH_LEN: usize = 1024;

/// Longest btauth/1 payload: the protocol and scheme lines, a method of at
/// most 16 letters, the path, a 64-hex body hash, a 20-digit nonce and two
/// SS58 addresses, newline-separated.
pub const MAX_BTAUTH_PAYLOAD_LEN: usize =
    9 + 8 + 17 + MAX_BTAUTH_PATH_LEN + 1 + 65 + 21 + MAX_SS58_LEN + 1 + MAX_SS58_LEN;

/// Most fields a commitment holds (the Commitments pallet's
/// `MaxCommitFields`).
pub const MAX_COMMITMENT_FIELDS: usize = 3;

/// Largest `TimelockEncrypted` field of a commitment (its `BoundedVec`
/// bound in the pallet).
pub const MAX_TIMELOCK_ENCRYPTED: usize = 1024;
