//! Every cap of the shell, in one place, each with its reason.
//!
//! The core bounds what it parses ([`veil_core::limits`]); the shell bounds
//! what it reads before handing bytes to the core: files, HTTP bodies,
//! objects, listings, and what it keeps in memory per caller. A cap is
//! checked before the bytes are read (a declared length first, then while
//! reading), so exceeding one costs at most the cap plus one byte.

use core::time::Duration;

// ---------------------------------------------------------------------------
// Files veil reads

/// Largest key file read (`--seed-file`, a wallet hotkey, a devnet key): a
/// hotkey JSON is ~500 bytes.
pub const MAX_KEY_FILE: usize = 16 * 1024;

/// Largest commitments registry file read: 128 characters per hotkey, and
/// a subnet has at most a few thousand.
pub const MAX_REGISTRY_FILE: usize = 16 * 1024 * 1024;

/// Largest results file read: a cycle of 256 miners × 16 submissions with
/// every rejection recorded is a few MiB.
pub const MAX_RESULTS_FILE: usize = 64 * 1024 * 1024;

/// Largest reputation file read (one small entry per hotkey ever seen).
pub const MAX_REPUTATION_FILE: usize = 64 * 1024 * 1024;

/// Largest metagraph file read (a few hundred bytes per neuron).
pub const MAX_METAGRAPH_FILE: usize = 64 * 1024 * 1024;

/// The most neurons a metagraph read from chain may hold (subtensor caps a
/// subnet at `MaxAllowedUids`, 256 on mainnet today; 4096 leaves room).
pub const MAX_METAGRAPH_NEURONS: usize = 4096;

/// Largest reveal journal entry read back (one image's verdict: ~1 KiB).
pub const MAX_JOURNAL_ENTRY: usize = 64 * 1024;

/// Challenges a miner remembers per caller (their rounds: one round per
/// challenge), and callers it remembers them for
/// (`phase4/miner/rounds.rs`).
pub const MAX_ROUNDS_PER_CALLER: usize = 256;
/// See [`MAX_ROUNDS_PER_CALLER`].
pub const MAX_ROUND_CALLERS: usize = 256;
/// Largest round journal read at start (256 × 256 entries of < 256 bytes).
pub const MAX_ROUND_JOURNAL: usize = 16 * 1024 * 1024;

/// The default lead a miner requires: the round it seals to must be emitted
/// at least this long after the request arrives (`--min-lead`).
pub const DEFAULT_MIN_LEAD: Duration = Duration::from_secs(60);

/// Largest thumbnail file inlined into the report (they are written at
/// [`THUMBNAIL_SIDE`] pixels: a few KiB).
pub const MAX_THUMBNAIL_FILE: usize = 4 * 1024 * 1024;

// ---------------------------------------------------------------------------
// Network reads

/// Largest response body read from a drand relay (a beacon or `/info` is
/// under 1 KiB).
pub const MAX_DRAND_RESPONSE: usize = 64 * 1024;

/// Largest request body the miner's axon reads (a MIID request carries one
/// base64 base image: [`MAX_IMAGE_BYTES`] grows by 4/3 in base64).
pub const MAX_AXON_BODY: usize = 32 * 1024 * 1024;

/// Room in a miner's answer beyond the echoed request: the submissions
/// themselves (at most 40 records of ~2 KiB are read) with ample margin.
pub const ANSWER_MARGIN: usize = 1024 * 1024;

/// What a reveal's objects may hold in memory at once by default
/// (`veil reveal --memory`): each object being read, opened and checked
/// counts its sealed bytes and its plaintext ([`reveal_cost`]): four of the
/// largest objects at once, and many small ones. Beside it, each of the
/// `--jobs` checks decodes at most one image ([`MAX_IMAGE_ALLOC`]), so a
/// reveal's peak stays under this budget plus `jobs` decodes.
pub const REVEAL_MEMORY: u64 = 512 * 1024 * 1024;

/// What one object of `size` bytes costs the reveal's memory budget: its
/// sealed bytes and its plaintext, never more than one copy of each.
pub const fn reveal_cost(size: u64) -> u64 {
    size.saturating_mul(2)
}

/// What the objects a validator reads at once (to check their rounds and
/// keep their copies) may hold in memory: four of the largest, however many
/// miners answer at once.
pub const VALIDATOR_OBJECT_MEMORY: u64 = 256 * 1024 * 1024;

/// Largest sealed object the validator reads to check its round, and the
/// reveal reads to open it.
pub const MAX_OBJECT: u64 = 64 * 1024 * 1024;

/// A complete request header must arrive within this (from a connection's
/// accept, or from the end of its previous answer); a connection that
/// takes longer is closed. Slow-loris connections cost at most this long.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request header read (hyper's read buffer, at least 8 KiB): a
/// signed bittensor request's headers are ~1 KiB.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Most connections a listener keeps open by default; fewer when the
/// descriptor limit leaves less room.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// Descriptors a listener leaves for everything else (files, the store,
/// outgoing connections) when it caps its connections below the process's
/// limit.
pub const DESCRIPTOR_RESERVE: usize = 128;

/// A request body must arrive within this once its header has.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// Most `(hotkey, nonce)` pairs a btauth/1 receiver remembers to refuse
/// replays (each for the 12 s a nonce stays fresh); at the cap, new
/// requests get 503 until old ones expire.
pub const MAX_BTAUTH_NONCES: usize = 65_536;

/// Most nonces of one hotkey a btauth/1 receiver remembers (its requests
/// of the last 12 s): past it that hotkey gets 503, while the others are
/// served.
pub const MAX_BTAUTH_NONCES_PER_CALLER: usize = 512;

/// Most dendrite sessions (uuids) of one hotkey the axon remembers: a
/// bittensor dendrite keeps one uuid for its lifetime, so a caller needs a
/// few; past it that hotkey gets 503, while the others are served.
pub const MAX_SESSIONS_PER_CALLER: usize = 64;

/// Most `(hotkey, uuid)` pairs whose last nonce the axon remembers at once:
/// beyond it, entries too old to matter are dropped, and if none are, new
/// callers get 503 until some are.
pub const MAX_AXON_CALLERS: usize = 65_536;

/// How long a miner works on a request whose caller states no timeout.
pub const DEFAULT_ANSWER_TIME: Duration = Duration::from_secs(120);

/// The longest a miner works on one request, whatever its caller states:
/// its generator runs are then killed and their slots freed.
pub const MAX_ANSWER_TIME: Duration = Duration::from_secs(300);

/// What the request bodies an axon holds at once may weigh (each counts
/// its declared length, or the body cap when it declares none): past it,
/// new requests get 503. With [`MAX_AXON_BODY`], eight of the largest.
pub const AXON_BODY_MEMORY: u64 = 256 * 1024 * 1024;

/// Most requests the axon handles at once past authentication.
pub const MAX_AXON_IN_FLIGHT: usize = 32;

/// The most entries one store listing returns; a larger listing is an
/// error rather than an unbounded allocation.
pub const MAX_LIST_ENTRIES: usize = 100_000;

/// Largest body of one page of a public bucket's `ListObjectsV2` (1000
/// keys of up to 1 KiB each, with XML around them).
pub const MAX_LIST_PAGE_BYTES: usize = 8 * 1024 * 1024;

/// Largest object a public bucket `PUT` sends: an anonymous `PUT` has no
/// multipart form, so the body is held in memory.
pub const MAX_PUBLIC_PUT: usize = 256 * 1024 * 1024;

/// The most commitments one subtensor fetch reads: a subnet has at most a
/// few thousand uids, and stale entries of deregistered hotkeys add to that.
pub const MAX_CHAIN_COMMITMENTS: usize = 65_536;

/// The longest one read of a subnet's commitments may take, every page
/// included (each call also has its own timeout).
pub const MAX_REGISTRY_READ_TIME: Duration = Duration::from_secs(120);

/// Largest subtensor storage value accepted (a `Registration` holding one
/// 128-byte commitment is ~200 bytes).
pub const MAX_CHAIN_VALUE: usize = 8 * 1024;

/// Largest WebSocket message from a subtensor node (a page of 1000 keys
/// with their values).
pub const MAX_CHAIN_MESSAGE: usize = 16 * 1024 * 1024;

/// Largest request veil sends a subtensor node (an extrinsic with a
/// timelocked weights commit is a few KiB).
pub const MAX_CHAIN_REQUEST: u32 = 1024 * 1024;

/// Beacons a devnet keeps once signed (each ~300 bytes of JSON): a round
/// asked again is not signed again.
pub const DEVNET_SIGNED_CACHE: usize = 4096;

/// Beacons a devnet signs at once, on blocking threads (a signature is
/// ~0.65 ms of CPU): more requests for unsigned rounds wait their turn.
pub const DEVNET_SIGNERS: usize = 2;

// ---------------------------------------------------------------------------
// Configuration

/// Largest `.env` file read (`--env-file`, or `.env` in the working
/// directory): a few dozen settings.
pub const MAX_ENV_FILE: usize = 64 * 1024;

// ---------------------------------------------------------------------------
// Disk the miner uses

/// Bytes a spool holds by default before refusing more (what a miner keeps
/// while its store is down).
pub const DEFAULT_SPOOL_CAP: u64 = 1 << 30;

/// Largest spool entry description read (a key, a size, a digest and a
/// store's name: well under 2 KiB).
pub const MAX_SPOOL_META: usize = 64 * 1024;

/// Largest object one spool entry holds (it is in memory while spooled and
/// when read back).
pub const MAX_SPOOLED: usize = 1 << 30;

// ---------------------------------------------------------------------------
// Images

/// Largest encoded image decoded: a 4096×4096 JPEG at high quality is
/// ~5–10 MiB; a PNG photo of that size can reach ~15 MiB.
pub const MAX_IMAGE_BYTES: usize = 16 << 20;

/// Largest image side decoded, pixels: the largest base image a validator
/// sends in practice is far smaller.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// Largest memory one decode may allocate for pixels: a 4096×4096 RGBA16
/// PNG needs 128 MiB plus a 48 MiB RGB8 copy.
pub const MAX_IMAGE_ALLOC: u64 = 256 << 20;

/// Largest photo of a real screen-replay capture, in bytes (a phone
/// camera's JPEG or PNG).
pub const MAX_CAPTURE_BYTES: usize = 32 << 20;
/// Largest side of a capture photo, in pixels (a 48-megapixel camera's
/// 8064 × 6048 fits).
pub const MAX_CAPTURE_SIDE: u32 = 8192;

/// The largest side of a built-in generator output; larger bases are
/// scaled down first (bounds the generator's time and memory).
pub const MAX_GENERATED_SIDE: u32 = 2048;

/// Longest side of the thumbnails the reveal keeps for the report, pixels.
pub const THUMBNAIL_SIDE: u32 = 192;

/// How much of an external generator's stderr is kept (its end) for the
/// error message.
pub const GENERATOR_STDERR_TAIL: usize = 64 << 10;

// ---------------------------------------------------------------------------
// Text and time

/// Longest peer-supplied text kept on one line (a reason, a key, a node's
/// error), in characters.
pub const MAX_PEER_TEXT_CHARS: usize = 300;

/// Most challenge ids the reputation file remembers as counted.
pub const MAX_REVEALED: usize = 1024;

/// Longest schedule value accepted on the command line (`--timeout`,
/// `--period`, …): no schedule needs more than a day, and arithmetic on
/// such values then never overflows.
pub const MAX_SCHEDULE: Duration = Duration::from_secs(86_400);
