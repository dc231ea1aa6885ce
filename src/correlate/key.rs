//! The contract between the two passes: what the load-balancer pass asks for ([`Wanted`], one per
//! LB 5xx in scope, found again by its [`request_key`]) and what the local pass answers with
//! ([`Candidate`] access lines, [`ErrorLine`]s), with the hashes both sides compute the same way.
//! The passes ([`super::elb`], [`super::local`]), the matcher and the idle-timeout inference all
//! depend on this module; it depends on none of them.

use crate::detect::Problem;
use crate::time::Timestamp;

/// One LB 5xx in scope, kept until the local pass.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub file: u32,
    /// The chunk of its file the line was read in (its `line` counts from that chunk's start
    /// until [`super::elb::Ingest::place`] makes it the line in the file).
    pub chunk: u32,
    pub line: u64,
    pub ts: Timestamp,
    /// When the request reached the LB (Classic stamps arrival; ALB stamps the response and
    /// records `request_creation_time`).
    pub arrival_us: i64,
    /// request + backend processing time, when the LB logged them.
    pub proc_us: Option<i64>,
    /// An ALB line with `request_creation_time`: for a 504 the LB generated, `ts - arrival` is
    /// its idle timeout.
    pub alb_created: bool,
    pub ours: bool,
    pub elb_status: u16,
    pub backend_status: Option<u16>,
    pub lb_generated: bool,
    /// The hash of the origin-form target (`/p?q`) alone: the key error-log lines are found by.
    pub path_key: u64,
    pub sent_bytes: u64,
    pub key: u64,
    /// The backend, request, method, client, user agent and ALB `error_reason`.
    pub text: Texts,
}

/// A wanted line's texts in one shared allocation: the walks over the wanted lines copy each
/// one, and a copy is then a reference count, not six allocations.
#[derive(Clone, Debug)]
pub struct Texts {
    bytes: std::sync::Arc<[u8]>,
    /// Where each text ends in `bytes`: backend, request, client, user agent, error reason, load
    /// balancer.
    ends: [u32; 6],
    has_backend: bool,
}

impl Texts {
    /// `backend` (when the line names one), `request` (the request line as the LB wrote it: it
    /// escapes nothing in it), `client`, `user_agent` (as the client sent it: decoded, the LB
    /// writes `"` as `\"`), `error_reason` (ALB), `lb`. All but the user agent are reported, as
    /// lossy UTF-8. `buf` is scratch space.
    pub fn new(backend: Option<&[u8]>, request: &[u8], client: &[u8], user_agent: &[u8], error_reason: &[u8], lb: &[u8], buf: &mut Vec<u8>) -> Texts {
        buf.clear();
        let mut ends = [0u32; 6];
        for (i, t) in [backend.unwrap_or(b""), request, client, user_agent, error_reason, lb].into_iter().enumerate() {
            if i == 3 {
                buf.extend_from_slice(t);
            } else {
                buf.extend_from_slice(String::from_utf8_lossy(t).as_bytes());
            }
            ends[i] = buf.len() as u32;
        }
        Texts { bytes: buf.as_slice().into(), ends, has_backend: backend.is_some() }
    }

    fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }

    fn str(&self, i: usize) -> &str {
        // (valid: written from lossy UTF-8 by `new`)
        std::str::from_utf8(self.field(i)).unwrap_or_default()
    }

    pub fn backend(&self) -> Option<&str> {
        self.has_backend.then(|| self.str(0))
    }
    pub fn request(&self) -> &str {
        self.str(1)
    }
    pub fn client(&self) -> &str {
        self.str(2)
    }
    pub fn user_agent(&self) -> &[u8] {
        self.field(3)
    }
    pub fn error_reason(&self) -> &str {
        self.str(4)
    }
    pub fn lb(&self) -> &str {
        self.str(5)
    }
}

/// A 64-bit hash of method and path (both as the client sent them: decode what the server
/// escaped first, see [`crate::format::escape`]), eight bytes at a time: the join key between the passes
/// (computed for every local line, so it must be cheap; collisions only cost a comparison that
/// the time, status and user-agent checks then reject).
#[inline]
pub fn request_key(method: &[u8], path: &[u8]) -> u64 {
    #[inline]
    fn mix(mut h: u64, b: &[u8]) -> u64 {
        const K: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            h = (h ^ u64::from_le_bytes(c.try_into().unwrap())).wrapping_mul(K).rotate_left(29);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            // (the zero-padded little-endian word, built in registers: a `copy_from_slice`
            // of a variable length here is a libc memcpy call per key)
            let mut w = 0u64;
            for (i, &b) in rest.iter().enumerate() {
                w |= (b as u64) << (8 * i);
            }
            h = (h ^ w ^ ((rest.len() as u64) << 59)).wrapping_mul(K).rotate_left(29);
        }
        h ^ (b.len() as u64).wrapping_mul(K)
    }
    let h = mix(0x243F_6A88_85A3_08D3, method);
    let h = mix(h.wrapping_mul(31), path);
    h ^ (h >> 32)
}

impl crate::spill::Spill for Wanted {
    /// By arrival, then by place in the inputs.
    type Key = (i64, u32, u32, u64);
    fn key(&self) -> Self::Key {
        (self.arrival_us, self.file, self.chunk, self.line)
    }
    fn encode(&self, o: &mut Vec<u8>) {
        use crate::spill::Enc;
        o.u32(self.file);
        o.u32(self.chunk);
        o.u64(self.line);
        o.timestamp(&self.ts);
        o.i64(self.arrival_us);
        o.u8(self.proc_us.is_some() as u8);
        o.i64(self.proc_us.unwrap_or(0));
        o.u8(self.alb_created as u8 | (self.ours as u8) << 1 | (self.lb_generated as u8) << 2 | (self.text.has_backend as u8) << 3);
        o.u16(self.elb_status);
        o.opt_u16(self.backend_status);
        o.u64(self.path_key);
        o.u64(self.sent_bytes);
        o.u64(self.key);
        for e in self.text.ends {
            o.u32(e);
        }
        o.bytes(&self.text.bytes);
    }
    fn decode(d: &mut crate::spill::Dec<'_>) -> Option<Self> {
        let (file, chunk, line, ts, arrival_us) = (d.u32()?, d.u32()?, d.u64()?, d.timestamp()?, d.i64()?);
        let has_proc = d.bool()?;
        let proc_us = d.i64()?;
        let flags = d.u8()?;
        let (elb_status, backend_status, path_key, sent_bytes, key) = (d.u16()?, d.opt_u16()?, d.u64()?, d.u64()?, d.u64()?);
        let mut ends = [0u32; 6];
        for e in ends.iter_mut() {
            *e = d.u32()?;
        }
        let bytes: std::sync::Arc<[u8]> = d.bytes()?.into();
        if !ends.is_sorted() || ends[5] as usize != bytes.len() {
            return None;
        }
        Some(Wanted {
            file,
            chunk,
            line,
            ts,
            arrival_us,
            proc_us: has_proc.then_some(proc_us),
            alb_created: flags & 1 != 0,
            ours: flags & 2 != 0,
            lb_generated: flags & 4 != 0,
            elb_status,
            backend_status,
            path_key,
            sent_bytes,
            key,
            text: Texts { bytes, ends, has_backend: flags & 8 != 0 },
        })
    }
}

/// The request keys are well-mixed 64-bit hashes already: hashing them again (SipHash) is
/// wasted work per line. Byte keys get FNV-1a.
#[derive(Clone, Copy, Default)]
pub struct KeyHash;

#[derive(Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // FNV-1a for byte keys (backend tokens)
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        self.0 = h;
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

/// A hash of a short text (a client address, a user agent): kept lines carry these, not the text.
#[inline]
pub fn text_hash(b: &[u8]) -> u64 {
    request_key(b"\x01", b)
}

/// The hash of an LB line's user agent (decoded), when there is one to compare: an LB line
/// without one (empty or `-`) matches any local user agent.
pub fn agent_hash(w: &Wanted) -> Option<u64> {
    let ua = w.text.user_agent();
    (!ua.is_empty() && ua != b"-").then(|| text_hash(ua))
}

/// Whether a server stamps a request's start (Apache `%t`) or its end (nginx, IIS).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stamp {
    Start,
    End,
}

/// A local access line that may be the same request as a wanted LB line.
#[derive(Clone, Debug)]
pub struct Candidate {
    /// The wanted line (an index into the slice's, or the probes').
    pub wanted: u32,
    pub file: u32,
    pub line: u64,
    pub ts: crate::time::Timestamp,
    pub stamp: Stamp,
    pub status: Option<u16>,
    /// The logged client (or X-Forwarded-For) is the LB line's client.
    pub client_match: bool,
    pub bytes: Option<u64>,
}

/// An error-log line naming a request path.
#[derive(Clone, Debug)]
pub struct ErrorLine {
    pub file: u32,
    pub line: u64,
    /// Wall-clock micros as written (no offset in error logs).
    pub wall_us: i64,
    pub ts: crate::time::Timestamp,
    pub message: String,
    pub problem: Option<Problem>,
}
