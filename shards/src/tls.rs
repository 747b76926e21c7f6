//! TLS termination on the WebSocket port (`wss://`, `https://`): `[tls]` names a PEM certificate chain
//! and key; each shard wraps every accepted connection in a rustls [`ServerConnection`] and feeds the
//! decrypted bytes to the same sans-IO connection logic, on either engine. `SIGHUP` reloads the files:
//! new connections use the new certificate, open ones keep theirs; a reload that fails keeps the old one
//! and says why.
//!
//! The crypto provider is `ring`; protocol versions are rustls' safe defaults (TLS 1.2 and 1.3); ALPN
//! offers `http/1.1` (the WebSocket upgrade and the pages are HTTP/1.1).

use std::io::{BufReader, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConnection;
use serde::Deserialize;

/// `[tls]` in the configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, PEM, leaf first.
    pub cert_file: PathBuf,
    /// The private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// Why the certificate or key could not be used (the files or their contents are at fault).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("[tls] {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The certificate file holds no certificate, or the key file no key.
    #[error("[tls] {path}: no {what} in PEM form")]
    Missing {
        /// The file.
        path: PathBuf,
        /// What was looked for.
        what: &'static str,
    },
    /// rustls refused the pair (a key that does not match the certificate, an unsupported key type).
    #[error("[tls] certificate and key: {0}")]
    Refused(String),
}

/// The current server configuration, replaced whole by a reload.
#[derive(Debug)]
pub struct TlsTerminator {
    files: TlsFiles,
    current: RwLock<Arc<rustls::ServerConfig>>,
}

impl TlsTerminator {
    /// Loads the certificate and key.
    ///
    /// # Errors
    ///
    /// [`TlsError`] when a file cannot be read or the pair is refused.
    pub fn load(files: &TlsFiles) -> Result<TlsTerminator, TlsError> {
        Ok(TlsTerminator {
            current: RwLock::new(Arc::new(server_config(files)?)),
            files: files.clone(),
        })
    }

    /// Reads the files again; on success new connections use them.
    ///
    /// # Errors
    ///
    /// [`TlsError`]; the previous certificate stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = Arc::new(server_config(&self.files)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
        Ok(())
    }

    /// A bare rustls server connection with the current configuration (benchmarks, tests).
    pub fn raw_session(&self) -> Result<ServerConnection, rustls::Error> {
        let config = Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()));
        ServerConnection::new(config)
    }

    /// A server-side TLS session for one accepted connection.
    pub fn session(&self) -> Result<TlsSession, rustls::Error> {
        let config = Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()));
        let mut conn = ServerConnection::new(config)?;
        // The shard moves at most one send buffer of plaintext into the session at a time, and only when
        // no ciphertext send is in flight, so the session's buffer is bounded by the shard, not by rustls.
        conn.set_buffer_limit(None);
        Ok(TlsSession {
            conn,
            sending: false,
            close_sent: false,
            failed: false,
        })
    }
}

/// One connection's TLS state, owned by its shard entry.
#[derive(Debug)]
pub struct TlsSession {
    conn: ServerConnection,
    /// A ciphertext buffer is with the engine.
    pub sending: bool,
    /// `close_notify` was queued.
    pub close_sent: bool,
    /// The peer broke TLS or closed it: flush what rustls queued (an alert), then drop the transport.
    pub failed: bool,
}

/// What reading ciphertext produced.
#[derive(Debug, PartialEq, Eq)]
pub enum TlsRead {
    /// Fine; plaintext (if any) was handed over.
    Ok,
    /// The peer broke TLS (or sent `close_notify`): answer with what rustls queued, then close.
    Fatal(String),
}

impl TlsSession {
    /// Feeds ciphertext `input`, handing every decrypted byte to `plaintext` (in `scratch`-sized pieces).
    pub fn read(
        &mut self,
        mut input: &[u8],
        scratch: &mut [u8],
        mut plaintext: impl FnMut(&[u8]),
    ) -> TlsRead {
        while !input.is_empty() {
            match self.conn.read_tls(&mut input) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => return TlsRead::Fatal(error.to_string()),
            }
            if let Err(error) = self.conn.process_new_packets() {
                return TlsRead::Fatal(error.to_string());
            }
            loop {
                match self.conn.reader().read(scratch) {
                    Ok(0) => return TlsRead::Fatal("peer sent close_notify".into()),
                    Ok(n) => plaintext(&scratch[..n]),
                    Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => break,
                    Err(error) => return TlsRead::Fatal(error.to_string()),
                }
            }
        }
        TlsRead::Ok
    }

    /// Encrypts `plaintext` (buffered until the handshake is done).
    pub fn write(&mut self, plaintext: &[u8]) {
        // Unlimited buffer (see `TlsTerminator::session`): write_all cannot fail short.
        let _ = self.conn.writer().write_all(plaintext);
    }

    /// Queues `close_notify` once.
    pub fn close(&mut self) {
        if !self.close_sent {
            self.close_sent = true;
            self.conn.send_close_notify();
        }
    }

    /// Whether ciphertext waits to be sent.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Appends the waiting ciphertext to `out`.
    pub fn take_ciphertext(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            if self.conn.write_tls(out).is_err() {
                break;
            }
        }
    }
}

fn server_config(files: &TlsFiles) -> Result<rustls::ServerConfig, TlsError> {
    let read = |path: &PathBuf| {
        std::fs::File::open(path)
            .map(BufReader::new)
            .map_err(|source| TlsError::Read {
                path: path.clone(),
                source,
            })
    };
    let certs: Vec<CertificateDer<'static>> = rustls_pem_certs(&mut read(&files.cert_file)?)
        .map_err(|source| TlsError::Read {
            path: files.cert_file.clone(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::Missing {
            path: files.cert_file.clone(),
            what: "certificate",
        });
    }
    let key = rustls_pem_key(&mut read(&files.key_file)?)
        .map_err(|source| TlsError::Read {
            path: files.key_file.clone(),
            source,
        })?
        .ok_or_else(|| TlsError::Missing {
            path: files.key_file.clone(),
            what: "private key",
        })?;
    // rustls marks ring's provider deprecated because it lacks post-quantum key exchange; aws-lc-rs,
    // which has it, needs cmake and a C++ toolchain at build time. ring stays until then.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Refused(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Every certificate in a PEM stream.
fn rustls_pem_certs(
    reader: &mut impl std::io::BufRead,
) -> std::io::Result<Vec<CertificateDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let mut text = Vec::new();
    reader.read_to_end(&mut text)?;
    CertificateDer::pem_slice_iter(&text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

/// The first private key in a PEM stream.
fn rustls_pem_key(
    reader: &mut impl std::io::BufRead,
) -> std::io::Result<Option<PrivateKeyDer<'static>>> {
    use rustls::pki_types::pem::PemObject;
    let mut text = Vec::new();
    reader.read_to_end(&mut text)?;
    match PrivateKeyDer::from_pem_slice(&text) {
        Ok(key) => Ok(Some(key)),
        Err(rustls::pki_types::pem::Error::NoItemsFound) => Ok(None),
        Err(e) => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            e.to_string(),
        )),
    }
}
