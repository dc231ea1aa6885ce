//! Where the probe's bytes come from, under deadlines, into a bounded buffer.
//!
//! A [`Transport`] reads *some* bytes before a deadline: a plain TCP socket, TLS over one (rustls
//! driven by hand, one record read at a time, so a server that drips bytes cannot stretch a read
//! past its deadline), or memory (tests and fuzzing, in arbitrary splits). A [`Reader`] keeps only
//! the bytes not yet judged: the response parser consumes what it has checked, so memory stays
//! bounded by the header limit plus one read, whatever the server sends.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The most bytes one read asks for.
pub const READ_SIZE: usize = 16 * 1024;

/// What one read brought.
#[derive(Debug, PartialEq, Eq)]
pub enum Got {
    Data(usize),
    /// The peer closed the connection (TCP FIN, or TLS close_notify / a close without it).
    Eof,
    /// Reset, or a TLS error after the handshake.
    Reset,
    /// The deadline passed first.
    Timeout,
}

/// A byte source that honours a deadline on every read.
pub trait Transport: Send {
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Got;
    /// Write everything before the deadline; `Err` says why not (a timeout is `TimedOut`).
    fn write_all_by(&mut self, data: &[u8], deadline: Instant) -> io::Result<()>;
}

/// Time left until `deadline`, or `None` when it has passed.
pub fn left(deadline: Instant) -> Option<Duration> {
    let l = deadline.saturating_duration_since(Instant::now());
    // set_read_timeout rejects zero; under a millisecond counts as passed.
    if l < Duration::from_millis(1) { None } else { Some(l) }
}

/// True for the errors a socket timeout produces (EAGAIN on Unix, WSAETIMEDOUT on Windows).
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

/// Plain TCP.
pub struct Plain(pub TcpStream);

impl Transport for Plain {
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Got {
        loop {
            let Some(l) = left(deadline) else { return Got::Timeout };
            if self.0.set_read_timeout(Some(l)).is_err() {
                return Got::Reset;
            }
            return match self.0.read(buf) {
                Ok(0) => Got::Eof,
                Ok(n) => Got::Data(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => Got::Timeout,
                Err(_) => Got::Reset,
            };
        }
    }

    fn write_all_by(&mut self, mut data: &[u8], deadline: Instant) -> io::Result<()> {
        while !data.is_empty() {
            let l = left(deadline).ok_or_else(|| io::Error::from(io::ErrorKind::TimedOut))?;
            self.0.set_write_timeout(Some(l))?;
            match self.0.write(data) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => data = &data[n..],
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(io::ErrorKind::TimedOut.into()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Bytes from memory, handed out in the given split sizes (cycled), then EOF — or, with
/// `then_timeout`, a timeout, as from a server that stops sending but keeps the connection.
pub struct Memory {
    data: Vec<u8>,
    pos: usize,
    splits: Vec<usize>,
    turn: usize,
    pub then_timeout: bool,
    /// What was written to it (the request).
    pub written: Vec<u8>,
}

impl Memory {
    pub fn new(data: Vec<u8>, splits: Vec<usize>) -> Memory {
        let splits = if splits.iter().all(|&s| s == 0) { vec![READ_SIZE] } else { splits.into_iter().filter(|&s| s > 0).collect() };
        Memory { data, pos: 0, splits, turn: 0, then_timeout: false, written: Vec::new() }
    }
}

impl Transport for Memory {
    fn read_some(&mut self, buf: &mut [u8], _deadline: Instant) -> Got {
        if self.pos >= self.data.len() {
            return if self.then_timeout { Got::Timeout } else { Got::Eof };
        }
        let want = self.splits[self.turn % self.splits.len()].min(buf.len()).min(self.data.len() - self.pos);
        self.turn += 1;
        buf[..want].copy_from_slice(&self.data[self.pos..self.pos + want]);
        self.pos += want;
        Got::Data(want)
    }

    fn write_all_by(&mut self, data: &[u8], _deadline: Instant) -> io::Result<()> {
        self.written.extend_from_slice(data);
        Ok(())
    }
}

/// Unjudged bytes of the response, over a transport, with the current phase's deadline.
///
/// `buf[pos..]` are the bytes read but not yet consumed. The buffer never holds more than what
/// the parser is looking at (at most the header limit) plus one read: bodies are consumed as
/// they arrive.
pub struct Reader<'t> {
    t: &'t mut dyn Transport,
    buf: Vec<u8>,
    pos: usize,
    pub eof: bool,
    pub reset: bool,
    pub timed_out: bool,
    pub deadline: Instant,
    /// Every byte received so far.
    pub received: u64,
}

impl<'t> Reader<'t> {
    pub fn new(t: &'t mut dyn Transport, deadline: Instant) -> Reader<'t> {
        Reader { t, buf: Vec::with_capacity(READ_SIZE), pos: 0, eof: false, reset: false, timed_out: false, deadline, received: 0 }
    }

    /// The bytes not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn len(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forget the first `n` unconsumed bytes.
    pub fn consume(&mut self, n: usize) {
        self.pos += n.min(self.len());
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
    }

    /// Start a new phase with its own deadline (a timeout of the previous phase is forgotten).
    pub fn phase(&mut self, deadline: Instant) {
        self.deadline = deadline;
        self.timed_out = false;
    }

    /// Read more bytes; false on EOF, reset or timeout (the flags say which).
    pub fn more(&mut self) -> bool {
        if self.eof || self.reset {
            return false;
        }
        // Move the unconsumed tail to the front before growing.
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let at = self.buf.len();
        self.buf.resize(at + READ_SIZE, 0);
        let got = self.t.read_some(&mut self.buf[at..], self.deadline);
        let n = if let Got::Data(n) = got { n } else { 0 };
        self.buf.truncate(at + n);
        match got {
            Got::Data(n) => {
                self.received += n as u64;
                true
            }
            Got::Eof => {
                self.eof = true;
                false
            }
            Got::Reset => {
                self.reset = true;
                self.eof = true;
                false
            }
            Got::Timeout => {
                self.timed_out = true;
                false
            }
        }
    }

    pub fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.t.write_all_by(data, self.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_splits_and_reader_consumes() {
        let mut m = Memory::new(b"abcdefgh".to_vec(), vec![3, 1]);
        let mut r = Reader::new(&mut m, Instant::now() + Duration::from_secs(1));
        assert!(r.more());
        assert_eq!(r.data(), b"abc");
        r.consume(2);
        assert!(r.more());
        assert_eq!(r.data(), b"cd");
        r.consume(2);
        assert!(r.is_empty());
        while r.more() {}
        assert!(r.eof && !r.timed_out);
        assert_eq!(r.received, 8);
        assert_eq!(r.data(), b"efgh");
    }

    #[test]
    fn a_plain_read_stops_at_the_deadline() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let _server = l.accept().unwrap();
        let mut p = Plain(c);
        let t0 = Instant::now();
        let mut b = [0u8; 8];
        assert_eq!(p.read_some(&mut b, t0 + Duration::from_millis(200)), Got::Timeout);
        assert!(t0.elapsed() < Duration::from_secs(2));
        assert_eq!(p.read_some(&mut b, Instant::now()), Got::Timeout, "a passed deadline reads nothing");
    }
}
