//! TLS for `https://` probes (rustls with ring). The certificate is not verified unless asked
//! (`--verify`), like `curl -k`: the probe judges HTTP, and backends behind a load balancer often
//! use self-signed certificates. Handshake signatures are still checked.
//!
//! The connection is driven by hand, one socket read at a time, so the handshake and every
//! later read end at their deadline even when the server drips one byte a second.

use std::io::Read;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};

use super::wire::{Got, Transport, is_timeout, left};

#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn verify_tls13_signature(&self, m: &[u8], c: &CertificateDer<'_>, d: &DigitallySignedStruct) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(m, c, d, &self.0.signature_verification_algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Why the handshake did not complete.
#[derive(Debug)]
pub enum HandshakeError {
    /// The deadline passed first (with the bytes received so far).
    Timeout(u64),
    /// Anything else: a TLS alert, a bad certificate with `--verify`, a closed connection.
    Failed(String),
}

/// TLS over a TCP socket, driven record by record so that every socket read honours the
/// deadline (rustls' own `complete_io`/`Stream` loop until a record is whole, which a server
/// dripping one byte a second stretches without end).
pub struct Tls {
    conn: ClientConnection,
    tcp: TcpStream,
    /// The TCP connection has ended (no more ciphertext will come).
    tcp_eof: bool,
    /// The TLS error behind the last `Got::Reset`.
    last_error: Option<String>,
}

fn client_config(verify: bool) -> anyhow::Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(if verify {
        let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        builder.dangerous().with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))).with_no_client_auth()
    })
}

impl Tls {
    /// Complete a TLS handshake over `tcp` with `host` (SNI when it is a name) before `deadline`.
    pub fn connect(host: &str, tcp: TcpStream, verify: bool, deadline: Instant) -> Result<Tls, HandshakeError> {
        let config = client_config(verify).map_err(|e| HandshakeError::Failed(e.to_string()))?;
        let name = ServerName::try_from(host.to_string()).map_err(|e| HandshakeError::Failed(format!("{host}: {e}")))?;
        let conn = ClientConnection::new(Arc::new(config), name).map_err(|e| HandshakeError::Failed(e.to_string()))?;
        let mut t = Tls { conn, tcp, tcp_eof: false, last_error: None };
        let mut received = 0u64;
        while t.conn.is_handshaking() {
            t.flush(deadline).map_err(|e| if is_timeout(&e) { HandshakeError::Timeout(received) } else { HandshakeError::Failed(e.to_string()) })?;
            if !t.conn.is_handshaking() {
                break;
            }
            if t.conn.wants_read() {
                match t.read_tls(deadline) {
                    Got::Data(n) => received += n as u64,
                    Got::Timeout => return Err(HandshakeError::Timeout(received)),
                    Got::Eof => return Err(HandshakeError::Failed("the server closed the connection during the handshake".into())),
                    Got::Reset => {
                        return Err(HandshakeError::Failed(t.last_error.take().unwrap_or_else(|| "the connection was reset during the handshake".into())));
                    }
                }
            }
        }
        t.flush(deadline).map_err(|e| if is_timeout(&e) { HandshakeError::Timeout(received) } else { HandshakeError::Failed(e.to_string()) })?;
        Ok(t)
    }

    /// Send whatever TLS records are pending.
    fn flush(&mut self, deadline: Instant) -> std::io::Result<()> {
        while self.conn.wants_write() {
            let l = left(deadline).ok_or_else(|| std::io::Error::from(std::io::ErrorKind::TimedOut))?;
            self.tcp.set_write_timeout(Some(l))?;
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if is_timeout(&e) => return Err(std::io::ErrorKind::TimedOut.into()),
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// One socket read of ciphertext, then process it.
    fn read_tls(&mut self, deadline: Instant) -> Got {
        loop {
            let Some(l) = left(deadline) else { return Got::Timeout };
            if self.tcp.set_read_timeout(Some(l)).is_err() {
                return Got::Reset;
            }
            return match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => {
                    self.tcp_eof = true;
                    Got::Eof
                }
                Ok(n) => match self.conn.process_new_packets() {
                    Ok(_) => Got::Data(n),
                    Err(e) => {
                        self.last_error = Some(format!("TLS: {e}"));
                        Got::Reset
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) if is_timeout(&e) => Got::Timeout,
                Err(_) => Got::Reset,
            };
        }
    }
}

impl Transport for Tls {
    fn read_some(&mut self, buf: &mut [u8], deadline: Instant) -> Got {
        loop {
            match self.conn.reader().read(buf) {
                Ok(0) => return Got::Eof, // close_notify
                Ok(n) => return Got::Data(n),
                // A close without close_notify: most servers end connections so.
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Got::Eof,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => return Got::Reset,
            }
            if self.tcp_eof {
                return Got::Eof;
            }
            if self.flush(deadline).is_err() {
                return Got::Reset;
            }
            match self.read_tls(deadline) {
                Got::Data(_) => {}
                Got::Eof => {} // the reader says whether the close was clean
                other => return other,
            }
        }
    }

    fn write_all_by(&mut self, data: &[u8], deadline: Instant) -> std::io::Result<()> {
        use std::io::Write;
        self.conn.writer().write_all(data)?;
        self.flush(deadline)
    }
}
